import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from datahub.core import connectors
from datahub.core.models import Run, Source
from datahub.core.services.runs import run_finish, run_start

log = logging.getLogger(__name__)


@shared_task(name="datahub.source_pull", acks_late=True, soft_time_limit=25 * 60)
def source_pull(source_id: int, run_id: int | None = None) -> int | None:
    """Run a source's connector once, inside a Run that records its counts and errors.

    Not auto-retried: a failed pull is a finished, failed run (visible in the runs list) and the
    next scheduled pull tries again; retrying here would hide the failure and double the load.
    A redelivered task (acks_late) whose run is already finished does nothing.
    """
    source = Source.objects.filter(id=source_id, is_active=True).first()
    if source is None:
        return None
    if run_id is None:
        run_id = run_start(source_id=source_id)
    elif not Run.objects.filter(id=run_id, status__in=[Run.Status.PENDING, Run.Status.RUNNING]).exists():
        return run_id
    fn = connectors.get(source.connector)
    if fn is None:
        run_finish(
            run_id=run_id,
            status=Run.Status.FAILED,
            errors=[{"message": f"no connector named {source.connector!r} is registered"}],
        )
        return run_id
    try:
        counts = fn(source_id=source_id, run_id=run_id) or {}
    except SoftTimeLimitExceeded:
        run_finish(run_id=run_id, status=Run.Status.FAILED, errors=[{"message": "time limit exceeded"}])
        raise
    except Exception as exc:  # noqa: BLE001 - any connector failure is recorded on its run
        log.exception("source %s pull failed", source.code)
        run_finish(run_id=run_id, status=Run.Status.FAILED, errors=[{"message": f"{type(exc).__name__}: {exc}"}])
        return run_id
    status = Run.Status.PARTIAL if counts.get("rejected") else Run.Status.SUCCEEDED
    run_finish(run_id=run_id, status=status, counts=counts)
    return run_id
