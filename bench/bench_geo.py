"""Datahub geo figures: gazetteer import, GeoJSON area import, place lookup in text, entity
resolution throughput, and event counts over a 200k-event log."""

import io
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path

EVENTS = 200_000
RESOLVE_ROWS = 2_000


def _data_dir() -> Path:
    from django.conf import settings

    return Path(settings.CITYOS_DATA_DIR)


def run() -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from datahub import facade
    from datahub.core.selectors.events import event_counts
    from datahub.core.services.areas import AreaMapping, area_import_geojson
    from datahub.core.services.gazetteer import gazetteer_import
    from datahub.models import Area, Entity, Event

    out: dict = {}
    call_command("demo_city", "--quiet-logins")
    data = _data_dir()

    t = time.perf_counter()
    gazetteer_import(directory=data / "cn_admin_division_codes_2023")
    out["gazetteer_import_44703_areas_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    gazetteer_import(directory=data / "cn_admin_division_codes_2023")
    out["gazetteer_reimport_s"] = round(time.perf_counter() - t, 2)

    nyc = data / "nyc_311_sample_and_boundaries"
    t = time.perf_counter()
    area_import_geojson(
        path=nyc / "nyc_borough_boundaries.geojson",
        mapping=AreaMapping(code_prop="boro_name", name_prop="boro_name", level="district", code_prefix="nyc-"),
    )
    area_import_geojson(
        path=nyc / "nyc_neighborhoods.geojson",
        mapping=AreaMapping(
            code_prop="{borough}/{neighborhood}",
            name_prop="neighborhood",
            level="community",
            code_prefix="nyc-",
            parent_code_prop="borough",
            parent_code_prefix="nyc-",
        ),
    )
    out["nyc_boroughs_and_neighbourhoods_import_s"] = round(time.perf_counter() - t, 2)

    # Place lookup: addresses built from real district + street names.
    rng = random.Random(7)
    streets = list(Area.objects.filter(level="street").select_related("parent").order_by("?")[:2000])
    texts = [f"{s.parent.name}{s.name}{rng.randint(1, 300)}号附近路灯不亮" for s in streets]
    t = time.perf_counter()
    facade.area_match_text(text="warm-up")
    out["gazetteer_index_build_s"] = round(time.perf_counter() - t, 2)
    hits, samples = 0, []
    for text, s in zip(texts, streets, strict=True):
        t = time.perf_counter()
        found = facade.area_match_text(text=text)
        samples.append(time.perf_counter() - t)
        hits += any(a.id == s.id for a in found)
    out["area_match_text_p50_us"] = round(statistics.median(samples) * 1e6, 1)
    out["area_match_text_street_found_pct"] = round(100 * hits / len(texts), 1)

    # Entity resolution: half by identifier (second pass), half by name and place.
    Entity.objects.filter(name__startswith="bench-").delete()
    Entity.objects.filter(name__startswith="batch-").delete()
    t = time.perf_counter()
    for i in range(RESOLVE_ROWS // 2):
        facade.entity_resolve(
            type="enterprise",
            name=f"bench-{i} 有限公司",
            identifiers={"uscc": f"B{i:08d}"},
            lon=120.0 + (i % 100) * 0.001,
            lat=30.1 + (i // 100) * 0.001,
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE datahub_entity")  # what autovacuum does after a bulk of new rows
    for i in range(RESOLVE_ROWS // 2):
        facade.entity_resolve(
            type="enterprise", name=f"BENCH-{i}", lon=120.0 + (i % 100) * 0.001 + 0.0002, lat=30.1 + (i // 100) * 0.001
        )
    elapsed = time.perf_counter() - t
    out["entity_resolve_rows_per_s"] = round(RESOLVE_ROWS / elapsed)
    rows = [
        {
            "type": "enterprise",
            "name": f"batch-{i}",
            "identifiers": {"uscc": f"C{i:08d}"},
            "lon": 120.0 + (i % 100) * 0.001,
            "lat": 30.2,
        }
        for i in range(RESOLVE_ROWS)
    ]
    t = time.perf_counter()
    for start in range(0, len(rows), 500):
        facade.entity_resolve_many(rows=rows[start : start + 500])
    out["entity_resolve_many_rows_per_s"] = round(RESOLVE_ROWS / (time.perf_counter() - t))
    out["entity_resolve_matched_by_name_and_place"] = (
        Entity.objects.filter(name__startswith="bench-").count() == RESOLVE_ROWS // 2
    )

    # Event counts over a big log (COPY-loaded).
    Event.objects.filter(type__startswith="bench.").delete()
    grids = list(Area.objects.filter(level="grid", code__startswith="9901").values_list("id", flat=True))
    now = timezone.now()
    buf = io.StringIO()
    for i in range(EVENTS):
        when = now - timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        buf.write(f"bench.{'abc'[i % 3]}\t{when.isoformat()}\t{when.isoformat()}\t{rng.choice(grids)}\t\t{{}}\n")
    buf.seek(0)
    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.cursor.copy_expert(
            "COPY datahub_event (type, occurred_at, recorded_at, area_id, object_ref, payload) FROM STDIN", buf
        )
        cur.execute("ANALYZE datahub_event")
    out["events_copy_rows_per_s"] = round(EVENTS / (time.perf_counter() - t))
    district = facade.area_get(code="990101")
    since = now - timedelta(days=30)
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        rows = event_counts(bucket="day", group="area", types=["bench.a"], area_id=district.id, since=since)
        runs.append(time.perf_counter() - t)
    out["event_counts_30d_by_day_and_area_in_a_district_ms"] = round(statistics.median(runs) * 1000, 1)
    out["event_counts_rows"] = len(rows)
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        facade.event_count(type="bench.b", area_id=district.id, since=since)
        runs.append(time.perf_counter() - t)
    out["event_count_30d_district_ms"] = round(statistics.median(runs) * 1000, 1)
    Event.objects.filter(type__startswith="bench.").delete()
    out["note"] = "2-core machine: the closing note of each run says what else was running"
    return out
