"""Historical time-series import from CSV: a generic long/wide importer with a column mapping,
and the two real datasets it is used for (Beijing air quality, METR-LA loop detectors).

Imports are resumable rather than one huge transaction. Readings are stored in chunks of
50,000 through the same first-write-wins store as live data, and each chunk commits in ONE
transaction together with the run's checkpoint (byte offset of the next row, rows consumed,
counts so far, errors so far) and heartbeat. So after a crash the run says exactly how far the
committed data goes: resuming from the checkpoint re-reads nothing that was stored, and if a
chunk were ever stored twice (two workers on one run) first-write-wins keeps one copy.
Progress lives on the Run (`run_progress`, which also pushes it to the user's open pages).
"""

import csv
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datahub.core.models import Run, Source
from datahub.core.services.runs import run_finish, run_progress
from datahub.iot.models import Datastream, Device, IngestBatch
from datahub.iot.services.devices import datastream_create, device_register
from datahub.iot.services.ingest import observations_store

CHUNK = 50_000  # readings per transaction: ~0.3 s each here, small enough to resume cheaply
# A chunk is also committed after this many seconds, full or not: the progress bar moves and the
# heartbeat stays fresh even on a slow file (many rejected cells, a loaded machine).
FLUSH_EVERY_S = 2.0
ERRORS_KEPT = 100
LAYOUTS = ("long", "wide")
TIME_FORMATS_NAMED = {"": "ISO 8601", "iso": "ISO 8601", "epoch": "epoch seconds", "epoch_ms": "epoch milliseconds"}


class ImportError_(ValueError):  # noqa: N801 - not the builtin
    """The file or the mapping as a whole cannot be imported; `field` names the mapping key at fault."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class ColumnMapping:
    """How a CSV maps to readings.

    layout "long": one row per time (and device). Either `value_columns` {csv column: metric},
    or a `metric_column` naming the metric and a `value_column` holding the value (tidy data).
    The device is `device_column` (its key, through `device_key_template`) or a fixed `device_key`.
    layout "wide": one column per series. Either `column_datastreams` {csv column: datastream id},
    or every column except the time columns is a device key (through `device_key_template`) for
    one `metric`.
    Time: `time_column` (`time_format`: ISO 8601 by default, "epoch", "epoch_ms" or a strptime
    pattern; naive times are in `tz`), or `time_parts` {"year": col, "month": col, "day": col,
    "hour": col[, "minute": col]} in `tz`, or no column: row i is at `time_start + i * time_step_s`.
    """

    layout: str = "long"
    value_columns: dict[str, str] = field(default_factory=dict)
    device_column: str | None = None
    device_key: str | None = None
    device_key_template: str = "{}"
    metric: str | None = None
    metric_column: str | None = None
    value_column: str | None = None
    column_datastreams: dict[str, int] = field(default_factory=dict)
    time_column: str | None = None
    time_format: str = ""
    time_parts: dict[str, str] | None = None
    time_start: datetime | None = None
    time_step_s: int | None = None
    tz: str = "UTC"
    na_values: frozenset = frozenset({"", "NA", "NaN", "nan", "null"})

    def as_json(self) -> dict:
        data = asdict(self)
        data["na_values"] = sorted(self.na_values)
        data["time_start"] = self.time_start.isoformat() if self.time_start else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ColumnMapping":
        """Build and check a mapping from JSON (API, form, stored import); errors name the key."""
        if not isinstance(data, dict):
            raise ImportError_("the mapping must be an object", field="mapping")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ImportError_(f"unknown mapping key(s): {', '.join(unknown)}", field=unknown[0])
        kw = {k: v for k, v in data.items() if v is not None and v != ""}
        for key in ("value_columns", "column_datastreams", "time_parts"):
            if key in kw and not isinstance(kw[key], dict):
                raise ImportError_(f"{key} must be an object", field=key)
        if "column_datastreams" in kw:
            try:
                kw["column_datastreams"] = {str(c): int(d) for c, d in kw["column_datastreams"].items()}
            except (TypeError, ValueError):
                raise ImportError_(
                    "column_datastreams values must be datastream ids", field="column_datastreams"
                ) from None
        if "na_values" in kw:
            if not isinstance(kw["na_values"], list | tuple):
                raise ImportError_("na_values must be a list of strings", field="na_values")
            kw["na_values"] = frozenset(str(v) for v in kw["na_values"])
        if "time_start" in kw:
            try:
                kw["time_start"] = datetime.fromisoformat(str(kw["time_start"]))
            except ValueError:
                raise ImportError_(
                    f"time_start {kw['time_start']!r} is not an ISO 8601 date-time", field="time_start"
                ) from None
        if "time_step_s" in kw:
            try:
                kw["time_step_s"] = int(kw["time_step_s"])
            except (TypeError, ValueError):
                raise ImportError_("time_step_s must be a whole number of seconds", field="time_step_s") from None
        mapping = cls(**kw)
        mapping.check()
        return mapping

    def check(self) -> None:
        """What can be checked without the file: layout, time zone, that the time and values are named."""
        if self.layout not in LAYOUTS:
            raise ImportError_(f"layout must be long or wide, not {self.layout!r}", field="layout")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ImportError_(f"unknown time zone {self.tz!r}", field="tz") from None
        if self.time_parts:
            missing = [p for p in ("year", "month", "day") if p not in self.time_parts]
            extra = [p for p in self.time_parts if p not in ("year", "month", "day", "hour", "minute")]
            if missing or extra:
                raise ImportError_(
                    "time_parts needs year, month and day columns (hour and minute optional)"
                    + (f"; unknown part(s): {', '.join(extra)}" if extra else ""),
                    field="time_parts",
                )
        elif not self.time_column and (self.time_start is None or not self.time_step_s):
            raise ImportError_("the mapping needs a time column, time parts, or a start and step", field="time_column")
        if self.time_step_s is not None and self.time_step_s <= 0:
            raise ImportError_("time_step_s must be positive", field="time_step_s")
        if "{}" not in self.device_key_template:
            raise ImportError_(
                "device_key_template must contain {} (where the column's value goes)", field="device_key_template"
            )
        if self.layout == "wide":
            if not self.column_datastreams and not self.metric:
                raise ImportError_(
                    "a wide mapping needs column_datastreams or the metric its columns hold", field="metric"
                )
        else:
            if bool(self.metric_column) != bool(self.value_column):
                raise ImportError_(
                    "metric_column and value_column go together",
                    field="metric_column" if not self.metric_column else "value_column",
                )
            if not self.value_columns and not self.metric_column:
                raise ImportError_(
                    "a long mapping needs value_columns or a metric_column and value_column", field="value_columns"
                )
            if not self.device_column and not self.device_key:
                raise ImportError_("a long mapping needs a device_column or a fixed device_key", field="device_column")

    def time_columns(self) -> set[str]:
        return set((self.time_parts or {}).values()) | ({self.time_column} if self.time_column else set())


def _parse_time_value(raw: str, fmt: str, tz: ZoneInfo) -> float:
    if fmt in ("", "iso"):
        dt = datetime.fromisoformat(raw.strip())
    elif fmt == "epoch":
        return float(raw)
    elif fmt == "epoch_ms":
        return float(raw) / 1000.0
    else:
        dt = datetime.strptime(raw.strip(), fmt)  # noqa: DTZ007 - naive times are in the mapping's zone
    return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp()


def _time_reader(mapping: ColumnMapping, header: list[str]) -> Callable[[list[str], int], float]:
    tz = ZoneInfo(mapping.tz)
    if mapping.time_parts:
        missing = [c for c in mapping.time_parts.values() if c not in header]
        if missing:
            raise ImportError_(f"time column(s) {', '.join(missing)} not in the header", field="time_parts")
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
                if len(memo) > 100_000:
                    memo.clear()
                memo[key] = t
            return t

        return parts
    if mapping.time_column:
        if mapping.time_column not in header:
            raise ImportError_(f"time column {mapping.time_column!r} not in the header", field="time_column")
        j = header.index(mapping.time_column)
        fmt = mapping.time_format or ""

        def column(row: list[str], _i: int) -> float:
            return _parse_time_value(row[j], fmt, tz)

        return column
    if mapping.time_start is None or not mapping.time_step_s:
        raise ImportError_("the mapping needs a time column, time parts, or a start and step", field="time_column")
    start = mapping.time_start if mapping.time_start.tzinfo else mapping.time_start.replace(tzinfo=tz)
    t0, step = start.timestamp(), float(mapping.time_step_s)
    return lambda _row, i: t0 + i * step


@dataclass
class Checkpoint:
    """How far a run got: the byte offset of the next data row, data rows consumed, counts so far."""

    offset: int = 0
    row: int = 0
    rows_read: int = 0
    stored: int = 0
    rejected: int = 0

    @classmethod
    def of(cls, run: Run) -> "Checkpoint":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: int(v) for k, v in (run.checkpoint or {}).items() if k in known})


StreamInfo = tuple[int, float | None, float | None]  # datastream id, valid min, valid max


def streams_index(qs=None) -> tuple[dict[tuple[str, str], StreamInfo], dict[int, StreamInfo]]:
    """The datastreams an import may write: by (device key, metric) and by id."""
    qs = Datastream.objects.all() if qs is None else qs
    by_key, by_id = {}, {}
    for i, k, m, lo, hi in qs.values_list("id", "device__key", "metric", "valid_min", "valid_max"):
        by_key[(k, m)] = by_id[i] = (i, lo, hi)
    return by_key, by_id


class SeriesReader:
    """Reads a CSV of readings row by row from a byte offset, turning cells into (datastream, time, value).

    The file is read in binary, line by line, so the offset after each row is exact and a resumed
    run seeks straight to it (a quoted field spanning lines is still one row: csv pulls more lines).
    Bad cells are counted and listed with their row (line in the file, the header is 1) and column.
    """

    def __init__(
        self,
        path: Path,
        mapping: ColumnMapping,
        *,
        streams: dict[tuple[str, str], StreamInfo],
        streams_by_id: dict[int, StreamInfo] | None = None,
        encoding: str = "utf-8-sig",
        delimiter: str = ",",
    ):
        self.path, self.mapping, self.streams = path, mapping, streams
        self.streams_by_id = streams_by_id or {}
        self.encoding, self.delimiter = encoding or "utf-8-sig", delimiter or ","
        self.size = max(path.stat().st_size, 1)

    def _lines(self, fh) -> Iterator[str]:
        # A BOM can only open the file: after the first line, plain UTF-8 (C fast path, ~2x).
        enc = self.encoding
        rest = "utf-8" if enc.replace("_", "-").lower() == "utf-8-sig" else enc
        first = fh.tell() == 0
        for raw in iter(fh.readline, b""):
            yield raw.decode(enc if first else rest)
            first = False

    def header(self) -> tuple[list[str], int]:
        with open(self.path, "rb") as fh:
            row = next(csv.reader(self._lines(fh), delimiter=self.delimiter), None)
            if not row:
                raise ImportError_(f"{self.path.name}: empty file")
            return [c.strip().lstrip("\ufeff") for c in row], fh.tell()

    def _targets(self, header: list[str]) -> list[tuple[int, StreamInfo | None, str | None, str | None]]:
        """(column index, fixed datastream or None, device key of the column or None, metric or None)."""
        m = self.mapping
        if m.layout == "wide":
            if m.column_datastreams:
                missing = [c for c in m.column_datastreams if c not in header]
                if missing:
                    raise ImportError_(f"column(s) {', '.join(missing)} not in the header", field="column_datastreams")
                out = []
                for c, ds_id in m.column_datastreams.items():
                    ds = self.streams_by_id.get(ds_id)
                    if ds is None:
                        raise ImportError_(
                            f"column {c}: no datastream {ds_id} you may write to", field="column_datastreams"
                        )
                    out.append((header.index(c), ds, None, None))
                return out
            skip = m.time_columns()
            return [(j, None, m.device_key_template.format(h), m.metric) for j, h in enumerate(header) if h not in skip]
        if m.metric_column:
            missing = [c for c in (m.metric_column, m.value_column) if c not in header]
            if missing:
                raise ImportError_(f"column(s) {', '.join(missing)} not in the header", field="metric_column")
            return [(header.index(m.value_column), None, None, None)]
        missing = [c for c in m.value_columns if c not in header]
        if missing:
            raise ImportError_(
                f"{self.path.name}: value column(s) {', '.join(missing)} not in the header", field="value_columns"
            )
        return [(header.index(c), None, None, metric) for c, metric in m.value_columns.items()]

    def prepare(self) -> None:
        """Read the header and check the mapping against it (raises ImportError_ naming the column)."""
        self.columns, self.data_offset = self.header()
        m = self.mapping
        self.time_of = _time_reader(m, self.columns)
        self.targets = self._targets(self.columns)
        if m.device_column and m.layout == "long" and m.device_column not in self.columns:
            raise ImportError_(f"device column {m.device_column!r} not in the header", field="device_column")
        self.dev_j = self.columns.index(m.device_column) if (m.device_column and m.layout == "long") else None
        self.metric_j = self.columns.index(m.metric_column) if (m.metric_column and m.layout == "long") else None

    def rows(
        self,
        start: Checkpoint,
        errors: list[dict],
        out: list[tuple[int, float, float]],
        *,
        limit_rows: int | None = None,
    ) -> Iterator[Checkpoint]:
        """Append each data row's readings to `out` and yield the checkpoint just past the row.

        `start.rows_read`/`rejected` are carried on; new errors are appended to `errors` (at most
        ERRORS_KEPT in all). The checkpoint yielded is one object, updated in place.
        """
        m, header = self.mapping, self.columns
        na, targets, time_of = m.na_values, self.targets, self.time_of
        dev_j, metric_j, template = self.dev_j, self.metric_j, m.device_key_template
        cp = Checkpoint(**asdict(start))
        with open(self.path, "rb") as fh:
            fh.seek(cp.offset or self.data_offset)
            reader = csv.reader(self._lines(fh), delimiter=self.delimiter)
            for row in reader:
                i = cp.row
                if limit_rows is not None and i >= limit_rows:
                    return
                line = i + 2  # the line in the file (header = 1), also for a resumed run
                cp.row += 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    cp.offset = fh.tell()
                    yield cp
                    continue
                try:
                    t = time_of(row, i)
                except (ValueError, IndexError, KeyError, OverflowError) as exc:
                    cp.rejected += 1
                    if len(errors) < ERRORS_KEPT:
                        col = m.time_column or ", ".join((m.time_parts or {}).values()) or "time"
                        errors.append({"row": line, "column": col, "reason": f"bad time: {exc}"})
                    cp.offset = fh.tell()
                    yield cp
                    continue
                row_key = (
                    template.format(row[dev_j].strip()) if dev_j is not None and dev_j < len(row) else m.device_key
                )
                for j, fixed, col_key, metric in targets:
                    raw = row[j].strip() if j < len(row) else ""
                    if raw in na:
                        continue  # a gap, not an error
                    cp.rows_read += 1
                    if fixed is not None:
                        ds = fixed
                    else:
                        key = col_key or row_key
                        if metric_j is not None:
                            metric = row[metric_j].strip() if metric_j < len(row) else ""
                        ds = self.streams.get((key, metric))
                        if ds is None:
                            cp.rejected += 1
                            if len(errors) < ERRORS_KEPT:
                                errors.append(
                                    {"row": line, "column": header[j], "reason": f"no datastream {key}/{metric}"}
                                )
                            continue
                    try:
                        v = float(raw)
                    except ValueError:
                        cp.rejected += 1
                        if len(errors) < ERRORS_KEPT:
                            errors.append({"row": line, "column": header[j], "reason": f"{raw!r} is not a number"})
                        continue
                    if v != v or v in (float("inf"), float("-inf")):
                        cp.rejected += 1
                        if len(errors) < ERRORS_KEPT:
                            errors.append(
                                {"row": line, "column": header[j], "reason": f"{raw!r} is not a finite number"}
                            )
                        continue
                    if (ds[1] is not None and v < ds[1]) or (ds[2] is not None and v > ds[2]):
                        cp.rejected += 1
                        if len(errors) < ERRORS_KEPT:
                            errors.append(
                                {"row": line, "column": header[j], "reason": f"{v} outside [{ds[1]}, {ds[2]}]"}
                            )
                        continue
                    out.append((ds[0], t, v))
                cp.offset = fh.tell()
                yield cp


def timeseries_check_csv(
    *,
    path: Path,
    mapping: ColumnMapping,
    streams_qs=None,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
    max_rows: int = 200,
) -> dict:
    """Dry run over the first `max_rows` data rows: what would be stored and every bad cell.

    Raises ImportError_ (naming the mapping key) when the mapping does not fit the file at all.
    """
    by_key, by_id = streams_index(streams_qs)
    reader = SeriesReader(path, mapping, streams=by_key, streams_by_id=by_id, encoding=encoding, delimiter=delimiter)
    reader.prepare()
    errors: list[dict] = []
    readings, streams_hit, rows_checked, rejected = 0, set(), 0, 0
    first = last = None
    out: list[tuple[int, float, float]] = []
    for state in reader.rows(Checkpoint(), errors, out, limit_rows=max_rows):
        readings += len(out)
        rows_checked, rejected = state.row, state.rejected
        for ds, t, _v in out:
            streams_hit.add(ds)
            first = t if first is None or t < first else first
            last = t if last is None or t > last else last
        out.clear()
    return {
        "rows_checked": rows_checked,
        "readings": readings,
        "rejected": rejected,
        "datastreams": sorted(streams_hit),
        "first_time": datetime.fromtimestamp(first, tz=ZoneInfo("UTC")).isoformat() if first is not None else None,
        "last_time": datetime.fromtimestamp(last, tz=ZoneInfo("UTC")).isoformat() if last is not None else None,
        "errors": errors,
    }


def timeseries_import_csv(
    *,
    path: Path,
    mapping: ColumnMapping,
    source_code: str = "",
    source_name: str = "",
    limit_rows: int | None = None,
    progress: Callable[[Run], None] | None = None,
    run: Run | None = None,
    streams_qs=None,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
    guard: Callable[[], None] | None = None,
    chunk: int | None = None,
) -> Run:
    """Import one CSV file into observations; returns its Run (read, stored, rejected, errors).

    Without `run`, a new run of source `source_code` is started. With one, the import resumes
    from its checkpoint (a new run has none: it starts at the first row). `guard()` is called
    inside every chunk's transaction before anything is written: it may raise to stop the import
    with nothing of that chunk committed (cancelled, or the run was taken over by another worker).
    `streams_qs` limits the datastreams the file may write to (a user's devices).
    """
    if run is None:
        source, _ = Source.objects.get_or_create(
            code=source_code,
            defaults={"name": source_name or source_code, "kind": Source.Kind.IOT, "connector": "csv_import"},
        )
        run = Run.objects.create(
            source=source, status=Run.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
        )
    chunk = chunk or int(getattr(settings, "DATAHUB_IMPORT_CHUNK", 0) or 0) or CHUNK
    by_key, by_id = streams_index(streams_qs)
    reader = SeriesReader(path, mapping, streams=by_key, streams_by_id=by_id, encoding=encoding, delimiter=delimiter)
    errors: list[dict] = list(run.errors or [])
    cp = Checkpoint.of(run)
    buf: list[tuple[int, float, float]] = []

    def commit(at: Checkpoint, *, final: bool) -> None:
        new_errors = errors[len(run.errors or []) :]
        with transaction.atomic():
            if guard:
                guard()
            stored = 0
            if buf:
                # What the store reports as newly stored is exact even after a crash: a chunk whose
                # transaction never committed stored nothing, and anything another worker stored
                # first counts as a duplicate here (first write wins), not twice.
                stored = observations_store(
                    rows=buf,
                    channel=IngestBatch.Channel.IMPORT,
                    touch_devices=False,
                    source_id=run.source_id,
                    run_id=run.id,
                ).stored
            fraction = 1.0 if final else min(at.offset / reader.size, 0.999)
            run_progress(
                run_id=run.id,
                progress=fraction,
                counts={"read": at.rows_read, "stored": at.stored + stored, "rejected": at.rejected},
                errors=new_errors,
            )
            Run.objects.filter(id=run.id).update(
                checkpoint=asdict(at) | {"stored": at.stored + stored}, heartbeat_at=timezone.now()
            )
        at.stored += stored
        buf.clear()
        run.refresh_from_db()
        if progress:
            progress(run)

    try:
        reader.prepare()
        last = _time.monotonic()
        state = None
        for state in reader.rows(cp, errors, buf, limit_rows=limit_rows):
            if len(buf) >= chunk or (state.row % 500 == 0 and _time.monotonic() - last >= FLUSH_EVERY_S):
                commit(state, final=False)
                last = _time.monotonic()
        commit(state or cp, final=True)
    except ImportError_ as exc:
        run.status, run.finished_at = Run.Status.FAILED, timezone.now()
        run.errors = [{"reason": str(exc), "field": exc.field}]
        run.save(update_fields=["status", "finished_at", "errors"])
        raise
    status = Run.Status.PARTIAL if run.rows_rejected else Run.Status.SUCCEEDED
    run_finish(run_id=run.id, status=status)
    run.refresh_from_db()
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
