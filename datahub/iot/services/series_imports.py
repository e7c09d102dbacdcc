"""Historical series files uploaded on the web or over the API, imported in the Celery worker.

Lifecycle: upload -> preview (header, first rows, a suggested mapping) -> check a mapping (a dry
run over the first rows, naming the row and column of every bad cell) -> confirm (queued) ->
running in the worker (live progress bar, cancel) -> succeeded / partial / failed / cancelled.
The reading itself is `iot_import.timeseries_import_csv`, the same importer `manage.py
import_timeseries` uses.

Crash safety: why a worker SIGKILLed in the middle loses nothing and stores nothing twice.

1. Checkpoints. Readings are stored in chunks; each chunk commits in ONE transaction with the
   run's checkpoint (byte offset of the next row, rows consumed, counts, errors) and heartbeat.
   Whatever the moment of the kill, the committed readings and the checkpoint agree. The store is
   also first-write-wins on (datastream, time), so even a chunk written twice is stored once.
2. Heartbeat. The running worker refreshes `Run.heartbeat_at` with every chunk, and at least
   every `iot_import.FLUSH_EVERY_S` seconds; a run whose heartbeat is older than
   `DATAHUB_RUN_STALE_S` (default 60 s) has lost its worker.
3. Recovery. `series_imports_recover` queues such imports again; it runs from beat every minute
   and is queued by every worker as it starts (`datahub.iot.tasks`), with a countdown
   until the first stale run would become stale, so a restarted worker resumes promptly.
   The task is also `acks_late`: the broker redelivers an unacknowledged message (Redis: after
   its visibility timeout); a redelivery of a finished or still-heartbeating import does nothing.
4. Lease. Starting or resuming an import claims it under a row lock and increments `attempt`;
   every chunk's transaction locks the import row and goes on only if its attempt is still the
   current one (and no cancel was asked). A worker presumed dead that wakes up (a long GC pause,
   a network partition) stops at its next chunk, writing nothing: one writer per import.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from datahub.core import files
from datahub.core.files import ImportFileError
from datahub.core.models import Run, Source
from datahub.core.services.runs import run_finish
from datahub.iot import selectors as sel
from datahub.iot.models import SeriesImport
from datahub.iot.services.csv_import import ColumnMapping, ImportError_, timeseries_check_csv, timeseries_import_csv

log = logging.getLogger(__name__)

SOURCE_CODE = "iot-file-import"
PREVIEW_ROWS = 20
HEAD_BYTES = 256 * 1024  # the preview reads at most this much of the file
CHECK_ROWS = 200  # the mapping check is a dry run over this many rows
TERMINAL = (
    SeriesImport.Status.SUCCEEDED,
    SeriesImport.Status.PARTIAL,
    SeriesImport.Status.FAILED,
    SeriesImport.Status.CANCELLED,
)
TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "ts", "date", "observed_at", "时间", "日期")
DEVICE_NAMES = ("device", "device_key", "key", "station", "sensor", "sensor_id", "站点", "设备")
METRIC_NAMES = ("metric", "variable", "parameter", "指标")
VALUE_NAMES = ("value", "reading", "val", "数值", "值")


class SeriesImportError(ValueError):
    """A refused request; `code` is stable, `field` names the mapping key (or file field) at fault."""

    def __init__(self, message: str, *, code: str = "invalid_mapping", field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message, self.code, self.field, self.status = message, code, field, status


class _Cancelled(Exception):
    pass


class _Superseded(Exception):
    """Another attempt owns the import now (this worker was presumed dead)."""


def stale_after_s() -> int:
    return int(getattr(settings, "DATAHUB_RUN_STALE_S", 60))


# --- upload and preview ----------------------------------------------------------------------------


def _head_text(path: Path, encoding: str) -> tuple[str, str]:
    with open(path, "rb") as fh:
        raw = fh.read(HEAD_BYTES)
    if len(raw) == HEAD_BYTES and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]  # never cut a character (or a row) in half
    text, enc = files.decode(raw, encoding)
    if enc.replace("_", "-").lower() in ("utf-8", "utf8") and raw.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    return text, enc


def _suggest(columns: list[str], rows: list[list[str]]) -> dict:
    """A first guess at the mapping: the time column, then long (a device column) or wide."""
    lower = {c.lower(): c for c in columns}
    mapping: dict = {"tz": settings.TIME_ZONE}
    parts = {p: lower[p] for p in ("year", "month", "day", "hour", "minute") if p in lower}
    time_col = next((lower[n] for n in TIME_NAMES if n in lower), None)
    if {"year", "month", "day"} <= set(parts):
        mapping["time_parts"] = parts
    elif time_col:
        mapping["time_column"] = time_col
        sample = next((r[columns.index(time_col)] for r in rows if len(r) > columns.index(time_col)), "")
        if sample.replace(".", "", 1).isdigit():
            mapping["time_format"] = "epoch_ms" if float(sample) > 1e11 else "epoch"
    used = set(parts.values()) | ({time_col} if time_col else set())
    device_col = next((lower[n] for n in DEVICE_NAMES if n in lower), None)
    metric_col = next((lower[n] for n in METRIC_NAMES if n in lower), None)
    value_col = next((lower[n] for n in VALUE_NAMES if n in lower), None)
    if device_col and metric_col and value_col:
        mapping.update(layout="long", device_column=device_col, metric_column=metric_col, value_column=value_col)
    elif device_col:
        mapping.update(
            layout="long",
            device_column=device_col,
            value_columns={c: c.lower() for c in columns if c not in used and c != device_col},
        )
    else:
        mapping.update(layout="wide", column_datastreams={})
    return mapping


def series_import_preview(*, upload: UploadedFile, user, encoding: str = "", delimiter: str = "") -> SeriesImport:
    """Store the upload and read its header and first rows; a file that cannot be read is refused
    (ImportFileError, the same codes as dataset imports) and nothing is kept."""
    if upload.size > files.max_upload_bytes():
        raise files.too_large(upload.size)
    name = Path(upload.name or "series.csv").name[:255]
    if not name.lower().endswith((".csv", ".txt", ".tsv")):
        raise ImportFileError(_("Series files must be CSV (long or wide)."), code="unsupported_format")
    imp = SeriesImport(filename=name, size=upload.size, created_by=user)
    imp.file.save(name, upload, save=False)
    try:
        text, enc = _head_text(Path(imp.file.path), encoding)
        delim = delimiter.replace("\\t", "\t") if delimiter else files.sniff_delimiter(text)
        reader = csv.reader(io.StringIO(text), delimiter=delim)
        header = [c.strip().lstrip("\ufeff") for c in next(reader, [])]
        if not any(header):
            raise ImportFileError(_("The file is empty: it has no header row."), code="empty_file")
        if len(set(header)) != len(header):
            dup = next(c for c in header if header.count(c) > 1)
            raise ImportFileError(_("The header names column %(name)r twice.") % {"name": dup}, code="duplicate_column")
        rows = []
        for row in reader:
            if len(rows) >= PREVIEW_ROWS:
                break
            rows.append(row)
    except ImportFileError:
        imp.file.delete(save=False)
        raise
    imp.encoding, imp.delimiter = enc, delim
    imp.preview = {"columns": header, "rows": rows, "suggested": _suggest(header, rows)}
    imp.save()
    return imp


# --- mapping: check and confirm ---------------------------------------------------------------------


def _mapping(data: dict) -> ColumnMapping:
    try:
        return ColumnMapping.from_json(data)
    except ImportError_ as e:
        raise SeriesImportError(str(e), field=e.field) from None


def series_mapping_check(*, imp: SeriesImport, mapping: dict, user, max_rows: int = CHECK_ROWS) -> dict:
    """Dry run of `mapping` over the first rows: readings it gives and every bad cell (row, column).

    A mapping that does not fit the file (a column not in the header, an unknown time zone, a
    datastream the user may not write) raises SeriesImportError naming the mapping key.
    """
    cm = _mapping(mapping)
    try:
        report = timeseries_check_csv(
            path=Path(imp.file.path),
            mapping=cm,
            streams_qs=sel.datastreams_writable_by(user),
            encoding=imp.encoding,
            delimiter=imp.delimiter,
            max_rows=max_rows,
        )
    except ImportError_ as e:
        raise SeriesImportError(str(e), field=e.field) from None
    except UnicodeDecodeError as e:
        raise SeriesImportError(
            _("The file is not %(enc)s text: %(error)s") % {"enc": imp.encoding, "error": e}, code="bad_encoding"
        ) from None
    report["mapping"] = cm.as_json()
    return report


def series_import_confirm(*, imp: SeriesImport, mapping: dict, user, queue: bool = True) -> SeriesImport:
    """Check the mapping and queue the import (Celery, after commit) as a run of source `iot-file-import`.

    Refused when the import is not waiting for a mapping, or when the first rows give no reading
    at all but do give errors (the message quotes the first one, with its row and column).
    `queue=False` leaves it for the caller to run with `series_import_execute`.
    """
    if imp.status != SeriesImport.Status.PREVIEWED:
        raise SeriesImportError(
            _("This import is already %(status)s.") % {"status": imp.get_status_display()},
            code="invalid_state",
            status=409,
        )
    report = series_mapping_check(imp=imp, mapping=mapping, user=user)
    if not report["readings"] and report["errors"]:
        e = report["errors"][0]
        raise SeriesImportError(
            _("None of the first %(n)s rows gives a reading. First error: row %(row)s, column %(column)s: %(reason)s")
            % {"n": report["rows_checked"], "row": e["row"], "column": e["column"], "reason": e["reason"]},
            code="no_readings",
        )
    source, _created = Source.objects.get_or_create(
        code=SOURCE_CODE,
        defaults={"name": "IoT file imports", "kind": Source.Kind.IOT, "connector": "csv_import"},
    )
    with transaction.atomic():
        run = Run.objects.create(source=source, status=Run.Status.PENDING, triggered_by=user)
        updated = SeriesImport.objects.filter(id=imp.id, status=SeriesImport.Status.PREVIEWED).update(
            mapping=report["mapping"], status=SeriesImport.Status.QUEUED, queued_at=timezone.now(), run=run
        )
        if not updated:
            raise SeriesImportError(_("This import was confirmed already."), code="invalid_state", status=409)
        if queue:
            _queue(imp.id)
    imp.refresh_from_db()
    return imp


def _queue(import_id: int, countdown: int | None = None) -> None:
    from datahub.iot.tasks import series_import_run

    transaction.on_commit(lambda: series_import_run.apply_async((import_id,), countdown=countdown))


def series_import_cancel(*, imp: SeriesImport) -> bool:
    """Stop an import: a queued or previewed one at once, a running one before its next chunk
    commits (chunks already committed stay: they are valid readings, and a re-import of the same
    file stores only what is missing). False when it had finished."""
    now = timezone.now()
    with transaction.atomic():
        n = SeriesImport.objects.filter(
            id=imp.id, status__in=[SeriesImport.Status.PREVIEWED, SeriesImport.Status.QUEUED]
        ).update(
            status=SeriesImport.Status.CANCELLED,
            cancel_requested=True,
            finished_at=now,
            message=_("Cancelled before it started."),
        )
        if n:
            if imp.run_id:
                run_finish(run_id=imp.run_id, status=Run.Status.CANCELLED)
            return True
        return bool(
            SeriesImport.objects.filter(id=imp.id, status=SeriesImport.Status.RUNNING).update(cancel_requested=True)
        )


# --- the run (Celery) -------------------------------------------------------------------------------


def _claim(import_id: int) -> tuple[SeriesImport, int] | None:
    """Take the import for this worker: a queued one, or a running one whose heartbeat is stale.

    Under the import's row lock, so two deliveries (a redelivery, a recovery) never both win.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=stale_after_s())
    with transaction.atomic():
        imp = SeriesImport.objects.select_for_update(of=("self",)).filter(id=import_id).first()
        if imp is None or imp.run_id is None:
            return None
        run = Run.objects.get(id=imp.run_id)
        if imp.status == SeriesImport.Status.RUNNING and run.status not in (Run.Status.PENDING, Run.Status.RUNNING):
            # The run finished but the worker died before the import row said so.
            _mirror(imp, run)
            return None
        if imp.cancel_requested and imp.status == SeriesImport.Status.RUNNING:
            _close(imp, Run.Status.CANCELLED, SeriesImport.Status.CANCELLED, _("Cancelled."))
            return None
        fresh = run.heartbeat_at is not None and run.heartbeat_at >= stale
        if not (imp.status == SeriesImport.Status.QUEUED or (imp.status == SeriesImport.Status.RUNNING and not fresh)):
            return None
        resumed = imp.status == SeriesImport.Status.RUNNING
        imp.attempt += 1
        imp.status = SeriesImport.Status.RUNNING
        imp.save(update_fields=["attempt", "status"])
        Run.objects.filter(id=run.id).update(
            status=Run.Status.RUNNING, heartbeat_at=now, started_at=run.started_at or now
        )
        if resumed:
            log.warning(
                "series import %s: resuming run %s from row %s (attempt %s; last heartbeat %s)",
                imp.id,
                run.id,
                (run.checkpoint or {}).get("row", 0),
                imp.attempt,
                run.heartbeat_at,
            )
    return imp, imp.attempt


def _mirror(imp: SeriesImport, run: Run) -> None:
    status = {
        Run.Status.SUCCEEDED: SeriesImport.Status.SUCCEEDED,
        Run.Status.PARTIAL: SeriesImport.Status.PARTIAL,
        Run.Status.CANCELLED: SeriesImport.Status.CANCELLED,
    }.get(run.status, SeriesImport.Status.FAILED)
    SeriesImport.objects.filter(id=imp.id).update(
        status=status, finished_at=run.finished_at or timezone.now(), message=_message(run)
    )


def _message(run: Run) -> str:
    msg = _("%(read)s values read, %(stored)s stored, %(rejected)s rejected.") % {
        "read": run.rows_read,
        "stored": run.rows_stored,
        "rejected": run.rows_rejected,
    }
    duplicates = run.rows_read - run.rows_stored - run.rows_rejected
    if duplicates > 0:
        msg += " " + _("%(n)s were already stored (first write wins).") % {"n": duplicates}
    return msg


def _close(imp: SeriesImport, run_status: str, status: str, message: str, errors: list | None = None) -> None:
    if imp.run_id:
        run_finish(run_id=imp.run_id, status=run_status, errors=errors)
    SeriesImport.objects.filter(id=imp.id).update(status=status, finished_at=timezone.now(), message=message)


def series_import_execute(*, import_id: int) -> SeriesImport | None:
    """Run (or resume from its checkpoint) one import. Safe to call twice: only a claim runs it."""
    claimed = _claim(import_id)
    if claimed is None:
        return None
    imp, attempt = claimed

    def guard() -> None:
        row = (
            SeriesImport.objects.select_for_update()
            .filter(id=import_id)
            .values_list("attempt", "cancel_requested")
            .first()
        )
        if row is None or row[0] != attempt:
            raise _Superseded
        if row[1]:
            raise _Cancelled

    run = Run.objects.get(id=imp.run_id)
    try:
        mapping = ColumnMapping.from_json(imp.mapping)
        run = timeseries_import_csv(
            path=Path(imp.file.path),
            mapping=mapping,
            run=run,
            streams_qs=sel.datastreams_writable_by(imp.created_by),
            encoding=imp.encoding,
            delimiter=imp.delimiter,
            guard=guard,
        )
    except _Superseded:
        log.warning("series import %s: attempt %s was superseded; stopping", import_id, attempt)
        return None
    except _Cancelled:
        with transaction.atomic():
            _close(imp, Run.Status.CANCELLED, SeriesImport.Status.CANCELLED, _("Cancelled."))
    except ImportError_ as e:
        # The mapping was checked at confirmation; the file must have changed underneath.
        SeriesImport.objects.filter(id=imp.id, attempt=attempt).update(
            status=SeriesImport.Status.FAILED, finished_at=timezone.now(), message=str(e)
        )
    except SoftTimeLimitExceeded:
        # A very long file outlived the task's time limit: hand it to a fresh task, which resumes
        # from the last checkpoint (the chunk in progress rolled back).
        Run.objects.filter(id=imp.run_id).update(heartbeat_at=None)
        _queue(import_id)
        return None
    except (OperationalError, InterfaceError):
        # The database went away: nothing after the last checkpoint was committed. Leave the run
        # "running"; once its heartbeat is stale, recovery resumes it from the checkpoint.
        log.warning("series import %s: database error, left for recovery", import_id, exc_info=True)
        raise
    except FileNotFoundError as e:
        _close(imp, Run.Status.FAILED, SeriesImport.Status.FAILED, _("The uploaded file is gone: %(e)s") % {"e": e})
    except Exception as e:
        log.exception("series import %s failed", import_id)
        _close(
            imp,
            Run.Status.FAILED,
            SeriesImport.Status.FAILED,
            _("Import failed: %(error)s") % {"error": e},
            errors=[{"reason": str(e)}],
        )
    else:
        SeriesImport.objects.filter(id=imp.id, attempt=attempt).update(
            status=SeriesImport.Status.PARTIAL if run.status == Run.Status.PARTIAL else SeriesImport.Status.SUCCEEDED,
            finished_at=timezone.now(),
            message=_message(run),
        )
    imp.refresh_from_db()
    return imp


def series_imports_recover() -> dict:
    """Queue again every import whose worker died: running with a stale heartbeat, or queued for
    long with nobody claiming it (a lost message). Returns the ids queued and how many seconds
    until the next running import could turn stale (None: none is running)."""
    now = timezone.now()
    stale_s = stale_after_s()
    stale = now - timedelta(seconds=stale_s)
    running = SeriesImport.objects.filter(status=SeriesImport.Status.RUNNING).values_list("id", "run__heartbeat_at")
    queued_long = SeriesImport.objects.filter(
        status=SeriesImport.Status.QUEUED, queued_at__lt=now - timedelta(seconds=5 * stale_s)
    ).values_list("id", flat=True)
    ids, next_in = [], None
    for import_id, beat in running:
        if beat is None or beat < stale:
            ids.append(import_id)
        else:
            wait = (beat - stale).total_seconds()
            next_in = wait if next_in is None else min(next_in, wait)
    ids.extend(queued_long)
    for import_id in ids:
        _queue(import_id)
    if ids:
        log.warning("series imports queued again after a lost worker: %s", ids)
    return {"queued": ids, "next_stale_in_s": next_in}


def datastreams_for_mapping(user) -> list[dict]:
    """The datastreams the mapping form offers for wide columns (those the user may write)."""
    qs = sel.datastreams_writable_by(user).select_related("device__entity")[:2000]
    return [
        {"id": d.id, "label": f"{d.device.key} / {d.metric}", "device": d.device.key, "metric": d.metric} for d in qs
    ]


__all__ = [
    "SeriesImportError",
    "datastreams_for_mapping",
    "series_import_cancel",
    "series_import_confirm",
    "series_import_execute",
    "series_import_preview",
    "series_imports_recover",
    "series_mapping_check",
]
