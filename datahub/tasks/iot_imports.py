"""Historical series imports run in the worker; recovery resumes those whose worker died.

See datahub.services.iot_series_imports for the mechanism (checkpoint, heartbeat, lease).
"""

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError


@shared_task(
    name="datahub.series_import_run",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=20 * 60,
)
def series_import_run(import_id: int) -> str | None:
    """Run or resume one import; a delivery that finds it claimed (fresh heartbeat) or finished does nothing."""
    from datahub.services.iot_series_imports import series_import_execute

    imp = series_import_execute(import_id=import_id)
    return imp.status if imp else None


@shared_task(
    name="datahub.series_imports_recover",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    soft_time_limit=60,
)
def series_imports_recover_task(follow: int = 0) -> dict:
    """Queue again the imports whose worker died (beat: every minute).

    `follow` > 0 (a worker that has just started): if a running import is not stale yet — its
    worker may be the one that just died —, look again when it would be, at most `follow` times.
    """
    from datahub.services.iot_series_imports import series_imports_recover

    result = series_imports_recover()
    if follow > 0 and result["next_stale_in_s"] is not None:
        series_imports_recover_task.apply_async(
            kwargs={"follow": follow - 1}, countdown=int(result["next_stale_in_s"]) + 1
        )
    return result


@worker_ready.connect(dispatch_uid="datahub.series_imports_recover_on_start")
def _recover_on_worker_start(sender=None, **_kw) -> None:
    """A worker that starts (after a crash, most likely) resumes what a dead worker left running."""
    try:
        series_imports_recover_task.apply_async(kwargs={"follow": 10}, countdown=1)
    except Exception:  # noqa: BLE001 - the broker may be down at start; beat recovers the imports too
        import logging

        logging.getLogger(__name__).warning("could not queue series import recovery", exc_info=True)
