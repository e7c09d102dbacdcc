"""Runs: one execution of a source's connector, with its counts and errors (lineage).

Connectors, importers and ingest loops call:

    run_id = run_start(source_id=src)
    run_progress(run_id=run_id, progress=0.4, counts={"read": 4000, "stored": 3990, "rejected": 10})
    run_finish(run_id=run_id, status="succeeded", counts={...}, errors=[{"row": 17, "message": "…"}])

`run_finish` claims the run with a conditional update, so a retried task that finishes twice
changes nothing the second time.
"""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cityos import realtime
from datahub.core.models import Run, Source

# Runs keep at most this many error entries (a 1M-row file with a bad column would otherwise
# store 1M messages in one JSON value); `errors_total` in the last entry says how many there were.
MAX_STORED_ERRORS = 1000
COUNT_FIELDS = {"read": "rows_read", "stored": "rows_stored", "rejected": "rows_rejected"}
OPEN = (Run.Status.PENDING, Run.Status.RUNNING)
FINAL = {Run.Status.SUCCEEDED, Run.Status.PARTIAL, Run.Status.FAILED, Run.Status.CANCELLED}


log = logging.getLogger(__name__)


class RunError(ValueError):
    pass


def _push(run_id: int) -> None:
    """After commit, push the run's state to whoever started it and to the owner department's open
    pages (`datahub.run` live event): progress bars follow imports without polling."""

    def send():
        run = Run.objects.select_related("source").filter(id=run_id).first()
        if run is None:
            return
        data = {
            "run_id": run.id,
            "source_id": run.source_id,
            "status": run.status,
            "progress": run.progress,
            "rows_read": run.rows_read,
            "rows_stored": run.rows_stored,
            "rows_rejected": run.rows_rejected,
        }
        try:
            if run.triggered_by_id:
                realtime.publish_to_user(run.triggered_by_id, "datahub.run", data)
            if run.source.owner_department_id:
                realtime.publish_to_department(run.source.owner_department_id, "datahub.run", data)
        except Exception:  # noqa: BLE001 - a live push must never fail an ingestion run
            log.warning("could not push run %s progress", run_id, exc_info=True)

    transaction.on_commit(send)


def _count_updates(counts: dict | None) -> dict[str, int]:
    out = {}
    for key, value in (counts or {}).items():
        field = COUNT_FIELDS.get(key) or (key if key in COUNT_FIELDS.values() else None)
        if field is None:
            raise RunError(f"unknown count {key!r} (use {', '.join(COUNT_FIELDS)})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RunError(f"count {key!r} must be a non-negative integer, not {value!r}")
        out[field] = value
    return out


def _errors(existing: list, new: list | None) -> list:
    if not new:
        return existing
    if not isinstance(new, list):
        raise RunError("errors must be a list")
    merged = [e if isinstance(e, dict) else {"message": str(e)} for e in (*existing, *new)]
    if len(merged) > MAX_STORED_ERRORS:
        total = len(merged)
        merged = merged[: MAX_STORED_ERRORS - 1] + [{"message": "more errors not stored", "errors_total": total}]
    return merged


def run_start(*, source_id: int, triggered_by_id: int | None = None, rows_read: int = 0) -> int:
    """Open a running run of `source_id` (started now); `rows_read` when the count is known upfront."""
    if not Source.objects.filter(id=source_id).exists():
        raise RunError(f"source {source_id} does not exist")
    run = Run.objects.create(
        source_id=source_id,
        status=Run.Status.RUNNING,
        started_at=timezone.now(),
        triggered_by_id=triggered_by_id,
        rows_read=rows_read,
    )
    return run.id


def run_progress(
    *, run_id: int, progress: float | None = None, counts: dict | None = None, errors: list | None = None
) -> None:
    """Store how far an open run is (0..1) and its counts so far; ignored once the run is finished."""
    updates = _count_updates(counts)
    if progress is not None:
        if not 0.0 <= float(progress) <= 1.0:
            raise RunError(f"progress must be between 0 and 1, not {progress!r}")
        updates["progress"] = float(progress)
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(id=run_id).first()
        if run is None:
            raise RunError(f"run {run_id} does not exist")
        if run.status not in OPEN:
            return
        if errors:
            updates["errors"] = _errors(run.errors, errors)
        updates["status"] = Run.Status.RUNNING
        Run.objects.filter(id=run_id).update(**updates)
        _push(run_id)


def run_finish(*, run_id: int, status: str, counts: dict | None = None, errors: list | None = None) -> bool:
    """Close the run. Returns False (and changes nothing) when it was already finished."""
    if status not in FINAL:
        raise RunError(f"status must be one of {', '.join(sorted(FINAL))}, not {status!r}")
    updates = _count_updates(counts)
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(id=run_id).first()
        if run is None:
            raise RunError(f"run {run_id} does not exist")
        if run.status not in OPEN:
            return False
        updates.update(
            status=status,
            finished_at=timezone.now(),
            errors=_errors(run.errors, errors),
            progress=1.0 if status == Run.Status.SUCCEEDED else F("progress"),
        )
        if run.started_at is None:
            updates["started_at"] = updates["finished_at"]
        Run.objects.filter(id=run_id).update(**updates)
        _push(run_id)
    return True
