"""Demo city step: data sources with runs, public facilities in the entity registry (with their
identifiers), and a month of facility inspection events for the event counts.

Idempotent: sources by code, entities resolved by their identifier, events keyed by object_ref.
"""

import random
from datetime import timedelta

from django.utils import timezone

from datahub.core.services import entities as entity_services
from datahub.core.services import runs as run_services
from datahub.models import Area, Department, Entity, Event, Run, Source

from .city import STEPS, DemoContext, random_point_in

# (kind, Chinese suffix, English suffix, identifier scheme, attributes)
FACILITY_KINDS = [
    ("school", "小学", "Primary School", "school_code", {"category": "education", "capacity": 1200}),
    ("clinic", "社区卫生服务中心", "Community Health Centre", "medical_licence", {"category": "health", "beds": 40}),
    ("library", "图书馆分馆", "Branch Library", "library_code", {"category": "culture", "seats": 180}),
    ("toilet", "公共厕所", "Public Toilet", "toilet_code", {"category": "sanitation", "open_24h": True}),
    ("park", "口袋公园", "Pocket Park", "park_code", {"category": "green", "area_m2": 3500}),
]
SOURCES = [
    ("binjiang-facilities", "滨江市公共设施名录", "government", "data-bureau", "csv_upload"),
    ("binjiang-inspections", "设施巡查记录", "application", "urban-management", ""),
]
INSPECTION_DAYS = 30


def build_registry(ctx: DemoContext) -> None:
    rng = random.Random(ctx.seed + 3)  # own stream: independent of the order of other steps
    sources = {}
    for code, name, kind, dept, connector in SOURCES:
        src, _ = Source.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "owner_department": Department.objects.filter(code=dept).first(),
                "connector": connector,
            },
        )
        sources[code] = src
    streets = list(
        Area.objects.filter(level="street", code__startswith="9901").select_related("parent").order_by("code")
    )
    if not streets:
        return
    fac_source = sources["binjiang-facilities"]
    facility_ids = []
    for n, street in enumerate(streets):
        stem, stem_en = street.name.removesuffix("街道"), street.name_en.removesuffix(" Subdistrict")
        for k, (kind, suffix, suffix_en, scheme, attrs) in enumerate(FACILITY_KINDS):
            if (n + k) % 2:  # every street gets 2–3 of the 5 kinds, deterministically
                continue
            point = random_point_in(street, rng)
            entity_id, _conf, _created = entity_services.entity_resolve(
                type="park" if kind == "park" else "facility",
                name=f"{street.parent.name}{stem}{suffix}",
                name_en=f"{stem_en} {suffix_en}",
                identifiers={scheme: f"BJ-{kind.upper()}-{n + 1:02d}{k + 1}"},
                lon=round(point.x, 6),
                lat=round(point.y, 6),
                attributes={**attrs, "street_code": street.code},
                source_id=fac_source.id,
            )
            facility_ids.append(entity_id)
    if not Run.objects.filter(source=fac_source).exists():
        run_id = run_services.run_start(source_id=fac_source.id)
        run_services.run_finish(
            run_id=run_id,
            status="succeeded",
            counts={"read": len(facility_ids), "stored": len(facility_ids), "rejected": 0},
        )
    _inspections(rng, sources["binjiang-inspections"], facility_ids)


def _inspections(rng: random.Random, source: Source, facility_ids: list[int]) -> None:
    done = set(Event.objects.filter(object_ref__startswith="demo:inspection:").values_list("object_ref", flat=True))
    today = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    areas = dict(Entity.objects.filter(id__in=facility_ids).values_list("id", "area_id"))
    new: list[Event] = []
    for i, entity_id in enumerate(facility_ids):
        for day in range(INSPECTION_DAYS):
            # Draw every random number whether or not the event exists, so a rerun sees the same stream.
            happened, minutes, issue = rng.random() <= 0.3, rng.randint(0, 480), rng.random() <= 0.15
            ref = f"demo:inspection:{i}:{day}"
            if not happened or ref in done:
                continue
            new.append(
                Event(
                    type="facility.inspected",
                    occurred_at=today - timedelta(days=day, minutes=minutes),
                    subject_id=entity_id,
                    area_id=areas.get(entity_id),
                    source_id=source.id,
                    object_ref=ref,
                    payload={"result": "issue" if issue else "ok"},
                )
            )
    # Past history, not live activity: bulk-inserted without a `datahub.event_recorded` per row.
    Event.objects.bulk_create(new, batch_size=1000)


STEPS.append(("entity registry", build_registry))
