"""Dataset import: a generated 100k-row CSV (id, name, date, amount, category, lat, lon), fully validated.

Measures the whole import as the Celery task runs it (read, decode, validate every value, COPY
into staging, upsert, locate to areas, version), then a re-import of the same file with 10% of
rows changed (the upsert path), and the preview (schema inference on the first 50k rows).
"""

import random
import tempfile
import time
from pathlib import Path

ROWS = 100_000


def _make_csv(path: Path, *, rows: int, seed: int, changed: float = 0.0) -> None:
    rng = random.Random(seed)
    cats = ["retail", "food", "services", "manufacturing", "logistics", "education", "health"]
    words = ["星光", "Blue", "River", "滨江", "Golden", "Harbour", "Park", "Tech", "绿色", "Union"]
    lines = ["id,name,date,amount,category,lat,lon"]
    for i in range(1, rows + 1):
        amount = round(rng.uniform(10, 100_000), 2)
        if rng.random() < changed:  # always drawn, so both files share every other value
            amount = round(amount + 1, 2)
        name = f"{rng.choice(words)} {rng.choice(words)} {i}"
        day = f"20{rng.randint(15, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lat, lon = 30.0 + rng.random() * 0.4, 120.0 + rng.random() * 0.4
        lines.append(f"{i},{name},{day},{amount},{rng.choice(cats)},{lat:.6f},{lon:.6f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _SqlTimer:
    """Time spent in the database (COPY is not an execute() call and counts as Python here)."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - t


def _drop_previous(Dataset) -> None:
    from django.db import connection

    ids = list(Dataset.objects.filter(slug__startswith="bench-import").values_list("id", flat=True))
    if ids:
        with connection.cursor() as cur:  # 200k records: one DELETE, not the ORM's collector
            cur.execute("DELETE FROM datahub_datasetrecord WHERE dataset_id = ANY(%s)", [ids])
            if not connection.in_atomic_block:  # each run starts from the same clean table
                cur.execute("VACUUM ANALYZE datahub_datasetrecord")
        Dataset.objects.filter(id__in=ids).delete()


def _query_figures(ds) -> dict:
    """Records API on the 100k-row dataset: median of 5 requests each, and a full CSV export."""
    import statistics

    from rest_framework.test import APIClient

    from cityos.models import User
    from cityos.roles import Role

    user, _ = User.objects.get_or_create(username="bench-analyst", defaults={"role": Role.ANALYST})
    client = APIClient(HTTP_HOST="localhost")
    client.force_authenticate(user)
    base = f"/api/v1/datahub/datasets/{ds.slug}"
    queries = {
        "filter_category": {"category": "food"},
        "range_amount_sorted": {"amount__gte": "99000", "sort": "-amount"},
        "fulltext_q": {"q": "harbour river"},
        "bbox": {"bbox": "120.1,30.1,120.15,30.15"},
        "page_100_of_sorted_by_date": {"sort": "date", "page": "100"},
    }
    out = {}
    for name, params in queries.items():
        samples = []
        for _ in range(5):
            t = time.perf_counter()
            resp = client.get(f"{base}/records/", params)
            samples.append(time.perf_counter() - t)
            assert resp.status_code == 200, resp.content
        out[f"query_{name}_ms"] = round(statistics.median(samples) * 1000, 1)
    t = time.perf_counter()
    resp = client.get(f"{base}/export/csv/")
    size = sum(len(chunk) for chunk in resp.streaming_content)
    seconds = time.perf_counter() - t
    out["export_csv_s"] = round(seconds, 2)
    out["export_csv_mb"] = round(size / 1e6, 1)
    return out


def run() -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from datahub.datasets.services import datasets as svc
    from datahub.models import Dataset, DatasetImport, Department

    dept, _ = Department.objects.get_or_create(code="bench-dept", defaults={"name": "Bench"})
    _drop_previous(Dataset)
    ds = svc.dataset_create(title="Bench import", slug="bench-import", owner_department=dept)
    out: dict = {"rows": ROWS}
    with tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp) / "first.csv", Path(tmp) / "second.csv"
        _make_csv(first, rows=ROWS, seed=1)
        _make_csv(second, rows=ROWS, seed=1, changed=0.1)
        out["file_mb"] = round(first.stat().st_size / 1e6, 1)
        for label, path in (("import", first), ("reimport_10pct_changed", second)):
            t0 = time.perf_counter()
            imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile(path.name, path.read_bytes()))
            preview_s = time.perf_counter() - t0
            svc.dataset_import_confirm(imp=imp, on_error=DatasetImport.OnError.ABORT)
            sql = _SqlTimer()
            t1 = time.perf_counter()
            with connection.execute_wrapper(sql):
                svc.dataset_import_execute(import_id=imp.id)
            seconds = time.perf_counter() - t1
            out[f"{label}_sql_s"] = round(sql.seconds, 2)
            out[f"{label}_python_and_copy_s"] = round(seconds - sql.seconds, 2)
            imp.refresh_from_db()
            assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
            out[f"{label}_preview_s"] = round(preview_s, 2)
            out[f"{label}_s"] = round(seconds, 2)
            out[f"{label}_rows_per_s"] = round(ROWS / seconds)
            out[f"{label}_result"] = imp.message
        out.update(_query_figures(ds))
    _drop_previous(Dataset)
    out["target_s"] = 10
    out["note"] = "2-core machine: the closing note of each run says what else was running"
    return out
