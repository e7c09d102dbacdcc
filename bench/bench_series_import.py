"""Series file import: throughput of the checkpointed importer (every chunk commits with the run's
checkpoint and heartbeat), and what a resume after a lost worker costs.

Environment knob: BENCH_SERIES_ROWS (default 200,000 rows x 3 value columns = 600,000 readings).
Runs on the bench database; its own devices (`bench-series-*`) and readings are removed first.
"""

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _clean() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT s.id FROM datahub_datastream s JOIN datahub_device d ON d.id = s.device_id "
            "WHERE d.key LIKE 'bench-series-%%'"
        )
        ids = [r[0] for r in cur.fetchall()]
        if ids:
            cur.execute("DELETE FROM datahub_observation WHERE datastream_id = ANY(%s)", [ids])
            cur.execute("DELETE FROM datahub_observation_rollup WHERE datastream_id = ANY(%s)", [ids])
            cur.execute("DELETE FROM datahub_observation_latest WHERE datastream_id = ANY(%s)", [ids])
            cur.execute("DELETE FROM datahub_datastream WHERE id = ANY(%s)", [ids])
        cur.execute("DELETE FROM datahub_device WHERE key LIKE 'bench-series-%%'")
        cur.execute("DELETE FROM datahub_entityidentifier WHERE value LIKE 'bench-series-%%'")


def _file(rows: int, devices: int) -> Path:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    fd, name = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "w") as fh:
        fh.write("time,station,PM2.5,NO2,TEMP\n")
        per_device = rows // devices
        for i in range(per_device):
            t = (t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")
            for d in range(devices):
                fh.write(f"{t},bench-series-{d},{i % 500},{(i * 7) % 300},{(i % 40) - 5}\n")
    return Path(name)


def _devices(devices: int) -> None:
    from datahub.iot.services.devices import datastream_create, device_register

    _clean()
    for d in range(devices):
        cred = device_register(key=f"bench-series-{d}", name=f"bench series {d}", device_type="air_quality")
        for metric in ("pm25", "no2", "temp"):
            datastream_create(device_id=cred.device_id, metric=metric)


def run() -> dict:
    from datahub.iot.services import csv_import as iot_import
    from datahub.models import Run, Source

    rows = int(os.environ.get("BENCH_SERIES_ROWS", 200_000))
    devices = 20
    path = _file(rows, devices)
    mapping = iot_import.ColumnMapping(
        layout="long",
        time_column="time",
        device_column="station",
        value_columns={"PM2.5": "pm25", "NO2": "no2", "TEMP": "temp"},
        tz="Asia/Shanghai",
    )
    try:
        # A resume, as after a lost worker: a run whose checkpoint says half the file is done
        # reads and stores only the second half (on an empty store, so every reading is new).
        _devices(devices)
        with open(path, "rb") as fh:
            fh.readline()
            for _ in range(rows // 2):
                fh.readline()
            checkpoint = {"offset": fh.tell(), "row": rows // 2}
        source, _ = Source.objects.get_or_create(code="bench-series", defaults={"name": "bench", "kind": "iot"})
        half = Run.objects.create(source=source, status=Run.Status.RUNNING, checkpoint=checkpoint)
        started = time.perf_counter()
        resumed = iot_import.timeseries_import_csv(path=path, mapping=mapping, run=half)
        resume_s = time.perf_counter() - started
        # The whole file, from the first row.
        _devices(devices)
        started = time.perf_counter()
        run = iot_import.timeseries_import_csv(path=path, mapping=mapping, source_code="bench-series")
        full_s = time.perf_counter() - started
    finally:
        path.unlink(missing_ok=True)
        _clean()
    readings = run.rows_stored
    return {
        "rows": rows,
        "readings": readings,
        "import_s": round(full_s, 2),
        "readings_per_s": round(readings / full_s),
        "chunks": -(-readings // iot_import.CHUNK),
        "resume_from_half_s": round(resume_s, 2),
        "resume_stored": resumed.rows_stored,
    }
