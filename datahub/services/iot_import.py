"""Historical time-series import from CSV: a generic long/wide importer with a column mapping,
and the two real datasets it is used for (Beijing air quality, METR-LA loop detectors).

Imports are resumable rather than one huge transaction: readings are stored in chunks of
50,000 through the same first-write-wins store as live data, so a rerun after a crash stores
only what is missing (the rest counts as duplicates). Progress lives on the Run.
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.utils import timezone

from datahub.models import Datastream, Device, IngestBatch, Run, Source

from .iot_devices import datastream_create, device_register
from .iot_ingest import observations_store

CHUNK = 50_000  # readings per transaction: ~0.3 s each here, small enough to resume cheaply
ERRORS_KEPT = 100


@dataclass
class ColumnMapping:
    """How a CSV maps to readings.

    layout "long": one row per time (and device): `device_column` (or a fixed `device_key`) and
    `value_columns` {csv column: metric}. layout "wide": one column per device for one `metric`;
    every column except the time columns is a device id.
    Time: `time_column` (ISO 8601; naive = `tz`), or `time_parts` {"year": col, "month": col,
    "day": col, "hour": col[, "minute": col]} in `tz`, or no column: row i is at
    `time_start + i * time_step_s`.
    """

    layout: str = "long"
    value_columns: dict[str, str] = field(default_factory=dict)
    device_column: str | None = None
    device_key: str | None = None
    device_key_template: str = "{}"
    metric: str | None = None
    time_column: str | None = None
    time_parts: dict[str, str] | None = None
    time_start: datetime | None = None
    time_step_s: int | None = None
    tz: str = "UTC"
    na_values: frozenset = frozenset({"", "NA", "NaN", "nan", "null"})


class ImportError_(ValueError):  # noqa: N801 - not the builtin
    pass


def _time_reader(mapping: ColumnMapping, header: list[str]) -> Callable[[list[str], int], float]:
    tz = ZoneInfo(mapping.tz)
    if mapping.time_parts:
        missing = [c for c in mapping.time_parts.values() if c not in header]
        if missing:
            raise ImportError_(f"time column(s) {', '.join(missing)} not in the header")
        idx = {k: header.index(c) for k, c in mapping.time_parts.items()}
        memo: dict[tuple, float] = {}

        def parts(row: list[str], _i: int) -> float:
            key = tuple(row[j] for j in idx.values())
            t = memo.get(key)
            if t is None:
                v = {k: int(row[j]) for k, j in idx.items()}
                t = datetime(
                    v["year"], v["month"], v["day"], v.get("hour", 0), v.get("minute", 0), tzinfo=tz
                ).timestamp()
                memo[key] = t
            return t

        return parts
    if mapping.time_column:
        if mapping.time_column not in header:
            raise ImportError_(f"time column {mapping.time_column!r} not in the header")
        j = header.index(mapping.time_column)

        def column(row: list[str], _i: int) -> float:
            dt = datetime.fromisoformat(row[j])
            return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp()

        return column
    if mapping.time_start is None or not mapping.time_step_s:
        raise ImportError_("the mapping needs a time column, time parts, or a start and step")
    start = mapping.time_start if mapping.time_start.tzinfo else mapping.time_start.replace(tzinfo=tz)
    t0, step = start.timestamp(), float(mapping.time_step_s)
    return lambda _row, i: t0 + i * step


def timeseries_import_csv(
    *,
    path: Path,
    mapping: ColumnMapping,
    source_code: str,
    source_name: str = "",
    limit_rows: int | None = None,
    progress: Callable[[Run], None] | None = None,
) -> Run:
    """Import one CSV file into observations; returns its Run (read, stored, rejected, errors)."""
    source, _ = Source.objects.get_or_create(
        code=source_code,
        defaults={"name": source_name or source_code, "kind": Source.Kind.IOT, "connector": "csv_import"},
    )
    run = Run.objects.create(source=source, status=Run.Status.RUNNING, started_at=timezone.now())
    total_bytes = max(path.stat().st_size, 1)
    streams = {
        (k, m): (i, lo, hi)
        for i, k, m, lo, hi in Datastream.objects.values_list("id", "device__key", "metric", "valid_min", "valid_max")
    }
    errors: list[dict] = []
    rows_read = stored = rejected = 0
    buf: list[tuple[int, float, float]] = []

    def flush() -> None:
        nonlocal stored
        if buf:
            res = observations_store(
                rows=buf,
                channel=IngestBatch.Channel.IMPORT,
                touch_devices=False,
                source_id=source.id,
                run_id=run.id,
            )
            stored += res.stored
            buf.clear()
        run.rows_read, run.rows_stored, run.rows_rejected = rows_read, stored, rejected
        run.progress = min(fh.tell() / total_bytes, 1.0) if not fh.closed else 1.0
        run.errors = errors[:ERRORS_KEPT]
        run.save(update_fields=["rows_read", "rows_stored", "rows_rejected", "progress", "errors"])
        if progress:
            progress(run)

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(iter(fh.readline, ""))
            header = next(reader, None)
            if not header:
                raise ImportError_(f"{path.name}: empty file")
            time_of = _time_reader(mapping, header)
            if mapping.layout == "wide":
                if not mapping.metric:
                    raise ImportError_("a wide mapping needs the metric its columns hold")
                skip = set((mapping.time_parts or {}).values()) | {mapping.time_column}
                targets = [
                    (j, mapping.device_key_template.format(h), mapping.metric)
                    for j, h in enumerate(header)
                    if h not in skip
                ]
            else:
                missing = [c for c in mapping.value_columns if c not in header]
                if missing:
                    raise ImportError_(f"{path.name}: value column(s) {', '.join(missing)} not in the header")
                targets = [(header.index(c), None, m) for c, m in mapping.value_columns.items()]
            dev_j = header.index(mapping.device_column) if mapping.device_column else None
            if mapping.device_column and dev_j is None:
                raise ImportError_(f"device column {mapping.device_column!r} not in the header")
            na = mapping.na_values
            for i, row in enumerate(reader):
                if limit_rows is not None and i >= limit_rows:
                    break
                line = i + 2
                try:
                    t = time_of(row, i)
                except (ValueError, IndexError) as exc:
                    rejected += 1
                    errors.append({"row": line, "column": "time", "reason": str(exc)})
                    continue
                row_key = mapping.device_key_template.format(row[dev_j]) if dev_j is not None else mapping.device_key
                for j, col_key, metric in targets:
                    raw = row[j] if j < len(row) else ""
                    if raw in na:
                        continue  # a gap, not an error
                    rows_read += 1
                    key = col_key or row_key
                    ds = streams.get((key, metric))
                    if ds is None:
                        rejected += 1
                        if len(errors) < ERRORS_KEPT:
                            errors.append({"row": line, "column": header[j], "reason": f"no datastream {key}/{metric}"})
                        continue
                    try:
                        v = float(raw)
                    except ValueError:
                        rejected += 1
                        if len(errors) < ERRORS_KEPT:
                            errors.append({"row": line, "column": header[j], "reason": f"{raw!r} is not a number"})
                        continue
                    if (ds[1] is not None and v < ds[1]) or (ds[2] is not None and v > ds[2]):
                        rejected += 1
                        if len(errors) < ERRORS_KEPT:
                            errors.append(
                                {"row": line, "column": header[j], "reason": f"{v} outside [{ds[1]}, {ds[2]}]"}
                            )
                        continue
                    buf.append((ds[0], t, v))
                if len(buf) >= CHUNK:
                    flush()
            flush()
    except ImportError_ as exc:
        run.status, run.finished_at = Run.Status.FAILED, timezone.now()
        run.errors = [{"reason": str(exc)}]
        run.save(update_fields=["status", "finished_at", "errors"])
        raise
    run.status = Run.Status.PARTIAL if rejected else Run.Status.SUCCEEDED
    run.progress, run.finished_at = 1.0, timezone.now()
    run.save(update_fields=["status", "progress", "finished_at"])
    if progress:
        progress(run)
    return run


# --- the real datasets --------------------------------------------------------------------------

BEIJING_METRICS = {
    # csv column: (metric, observed property, unit, valid min, valid max)
    "PM2.5": ("pm25", "PM2.5", "µg/m³", 0, 1500),
    "PM10": ("pm10", "PM10", "µg/m³", 0, 2000),
    "SO2": ("so2", "SO2", "µg/m³", 0, 1000),
    "NO2": ("no2", "NO2", "µg/m³", 0, 1000),
    "CO": ("co", "CO", "µg/m³", 0, 20000),
    "O3": ("o3", "O3", "µg/m³", 0, 1500),
    "TEMP": ("temp", "air temperature", "°C", -40, 50),
    "PRES": ("pres", "air pressure", "hPa", 900, 1100),
    "DEWP": ("dewp", "dew point", "°C", -50, 40),
    "RAIN": ("rain", "precipitation", "mm", 0, 300),
    "WSPM": ("wspm", "wind speed", "m/s", 0, 60),
}
BEIJING_SOURCE = "beijing-multisite-air-quality"
METR_LA_SOURCE = "metr-la-los-loop"


def _ensure_device(
    *, key: str, name: str, device_type: str, lon=None, lat=None, interval: int, streams: list[tuple]
) -> int:
    device = Device.objects.filter(key=key).first()
    device_id = (
        device.id
        if device
        else device_register(
            key=key, name=name, device_type=device_type, lon=lon, lat=lat, expected_interval_s=interval
        ).device_id
    )
    for metric, prop, unit, lo, hi in streams:
        datastream_create(
            device_id=device_id, metric=metric, observed_property=prop, unit=unit, valid_min=lo, valid_max=hi
        )
    return device_id


def beijing_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "beijing_multisite_air_quality").glob("PRSA_Data_*_20130301-20170228.csv"))


def beijing_air_quality_import(
    *, data_dir: Path, stations: list[str] | None = None, limit_rows: int | None = None, progress=None
) -> list[Run]:
    """The 12 stations' hourly files (local time Asia/Shanghai, "NA" gaps) -> 11 datastreams each."""
    runs = []
    for path in beijing_files(data_dir):
        station = path.name.split("_")[2]
        if stations and station not in stations:
            continue
        key = f"bj-aq-{station.lower()}"
        _ensure_device(
            key=key,
            name=f"北京 {station} 空气站",
            device_type=Device.Type.AIR_QUALITY,
            interval=3600,
            streams=list(BEIJING_METRICS.values()),
        )
        mapping = ColumnMapping(
            layout="long",
            device_key=key,
            value_columns={col: spec[0] for col, spec in BEIJING_METRICS.items()},
            time_parts={"year": "year", "month": "month", "day": "day", "hour": "hour"},
            tz="Asia/Shanghai",
        )
        runs.append(
            timeseries_import_csv(
                path=path,
                mapping=mapping,
                source_code=BEIJING_SOURCE,
                source_name="Beijing Multi-Site Air-Quality (UCI)",
                limit_rows=limit_rows,
                progress=progress,
            )
        )
    return runs


def metr_la_import(*, data_dir: Path, limit_rows: int | None = None, progress=None) -> Run:
    """Los-loop speeds: wide (one column per sensor) -> long; 5-minute rows from 2012-03-01 00:00
    Los Angeles time (the file has no time column: SOURCE.txt); 207 sensors with coordinates."""
    base = data_dir / "metr_la_los_loop_traffic"
    with open(base / "graph_sensor_locations.csv", newline="") as fh:
        for rec in csv.DictReader(fh):
            _ensure_device(
                key=f"la-loop-{rec['sensor_id']}",
                name=f"LA loop {rec['sensor_id']}",
                device_type=Device.Type.TRAFFIC_FLOW,
                lon=float(rec["longitude"]),
                lat=float(rec["latitude"]),
                interval=300,
                streams=[("speed", "traffic speed", "mph", 0, 100)],
            )
    mapping = ColumnMapping(
        layout="wide",
        metric="speed",
        device_key_template="la-loop-{}",
        time_start=datetime(2012, 3, 1, tzinfo=ZoneInfo("America/Los_Angeles")),
        time_step_s=300,
        tz="America/Los_Angeles",
    )
    return timeseries_import_csv(
        path=base / "los_speed.csv",
        mapping=mapping,
        source_code=METR_LA_SOURCE,
        source_name="METR-LA Los-loop speeds",
        limit_rows=limit_rows,
        progress=progress,
    )
