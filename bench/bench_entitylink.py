"""Entity linking of dataset records (datahub.datasets.services.entities).

1. the whole Little Rock business licence file (14,573 rows, names only: every row goes through
   the resolver) linked with an enterprise mapping, then linked again (must be a no-op);
2. a generated 20,000-row file with a licence number per row: first linking (resolver, creates
   the entities and their identifiers), then a re-import with every name changed, whose rows
   are matched by identifier set-based in one UPDATE (no resolver per row).
"""

import os
import random
import time
from pathlib import Path

GENERATED = 20_000


def _drop_previous(Dataset, Entity) -> None:
    from django.db import connection

    ids = list(Dataset.objects.filter(slug__startswith="bench-entitylink").values_list("id", flat=True))
    if ids:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM datahub_datasetrecord WHERE dataset_id = ANY(%s)", [ids])
        Dataset.objects.filter(id__in=ids).delete()
    with connection.cursor() as cur:  # the entities these benches created (their identifiers cascade)
        cur.execute("DELETE FROM datahub_entityidentifier WHERE scheme = 'bench-licence'")
    Entity.objects.filter(attributes__bench="entitylink").delete()


def _generated_csv(*, renamed: bool) -> bytes:
    rng = random.Random(7)
    words = ["星光", "滨江", "绿色", "River", "Golden", "Harbour", "Union", "Tech"]
    lines = ["id,licence,name,lat,lon"]
    for i in range(1, GENERATED + 1):
        name = f"{rng.choice(words)}{rng.choice(words)}{i}{'集团' if renamed else '有限公司'}"
        lat, lon = 30.0 + rng.random() * 0.4, 120.0 + rng.random() * 0.4
        lines.append(f"{i},BL-{i:06d},{name},{lat:.6f},{lon:.6f}")
    return ("\n".join(lines) + "\n").encode()


def _import(ds, content: bytes, name: str, **confirm) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from datahub.datasets.services import datasets as svc

    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile(name, content))
    svc.dataset_import_confirm(imp=imp, queue=False, **confirm)
    svc.dataset_import_execute(import_id=imp.id)
    imp.refresh_from_db()
    assert imp.status in ("succeeded", "partial"), imp.message
    ds.refresh_from_db()


def _link(ds) -> tuple[dict, float]:
    from datahub.datasets.services.entities import dataset_entities_link

    t0 = time.perf_counter()
    stats = dataset_entities_link(dataset_id=ds.id)
    return stats, time.perf_counter() - t0


def run() -> dict:
    from datahub.datasets.services import datasets as svc
    from datahub.datasets.services import entities as link
    from datahub.models import Dataset, Department, Entity

    dept, _ = Department.objects.get_or_create(code="bench-dept", defaults={"name": "Bench"})
    _drop_previous(Dataset, Entity)
    out: dict = {}
    data = Path(os.environ.get("CITYOS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = data / "little_rock_city_open_data" / "Business_Licenses.csv"
    if path.is_file():
        ds = svc.dataset_create(title="Bench entity link LR", slug="bench-entitylink-lr", owner_department=dept)
        _import(ds, path.read_bytes(), path.name, on_error="skip")
        link.dataset_entity_mapping_set(dataset=ds, mapping={"type": "enterprise", "name_field": "Business"})
        stats, seconds = _link(ds)
        Entity.objects.filter(id__in=ds.records.values("entity_id")).update(attributes={"bench": "entitylink"})
        out["little_rock_rows"] = stats["candidates"]
        out["little_rock_entities_created"] = stats["created"]
        out["little_rock_link_s"] = round(seconds, 2)
        out["little_rock_rows_per_s"] = round(stats["candidates"] / seconds)
        again, seconds = _link(ds)
        assert again["candidates"] == 0, again
        out["little_rock_relink_noop_s"] = round(seconds, 3)
    ds = svc.dataset_create(title="Bench entity link gen", slug="bench-entitylink-gen", owner_department=dept)
    _import(ds, _generated_csv(renamed=False), "firms.csv", location={"lat": "lat", "lon": "lon"})
    link.dataset_entity_mapping_set(
        dataset=ds,
        mapping={"type": "enterprise", "name_field": "name", "id_field": "licence", "id_scheme": "bench-licence"},
    )
    stats, seconds = _link(ds)
    Entity.objects.filter(id__in=ds.records.values("entity_id")).update(attributes={"bench": "entitylink"})
    out["generated_rows"] = GENERATED
    out["generated_first_link_s"] = round(seconds, 2)
    out["generated_first_link_rows_per_s"] = round(stats["resolved"] / seconds)
    _import(ds, _generated_csv(renamed=True), "firms.csv", location={"lat": "lat", "lon": "lon"})
    stats, seconds = _link(ds)
    assert stats["by_identifier"] == GENERATED, stats
    out["generated_identifier_relink_s"] = round(seconds, 2)
    out["generated_identifier_relink_rows_per_s"] = round(GENERATED / seconds)
    _drop_previous(Dataset, Entity)
    out["note"] = "2-core machine: the closing note of each run says what else was running"
    return out
