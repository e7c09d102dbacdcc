from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError
from django.utils import timezone

# Months created ahead: three, so a beat outage of weeks never leaves ingestion without a
# partition (late data creates its own on demand anyway).
MONTHS_AHEAD = 3
# The ingest monitor shows minutes to days; a week of batches (~5/s from MQTT: ~3M rows max).
INGEST_BATCH_KEEP_DAYS = 7


@shared_task(
    name="datahub.observation_partitions_ensure",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    soft_time_limit=120,
)
def observation_partitions_ensure_task() -> list[str]:
    from datahub.iot.services.partitions import observation_partitions_ensure

    now = timezone.now()
    return observation_partitions_ensure(start=now - timedelta(days=31), end=now + timedelta(days=31 * MONTHS_AHEAD))


@shared_task(
    name="datahub.ingest_batches_prune",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    soft_time_limit=300,
)
def ingest_batches_prune_task() -> int:
    from datahub.iot.models import IngestBatch

    cutoff = timezone.now() - timedelta(days=INGEST_BATCH_KEEP_DAYS)
    deleted, _ = IngestBatch.objects.filter(committed_at__lt=cutoff).delete()
    return deleted


@shared_task(
    name="datahub.mqtt_reconcile",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    soft_time_limit=600,
)
def mqtt_reconcile_task() -> dict:
    """Repair drift between the devices and the broker's clients (beat: every 5 minutes).
    Safe to run twice: it only sends what differs. Without broker credentials it does nothing."""
    from datahub.iot.services.broker import broker_managed, broker_reconcile

    if not broker_managed():
        return {"skipped": "MQTT_ADMIN_USERNAME / MQTT_ADMIN_PASSWORD are not set"}
    report = broker_reconcile()  # BrokerError: the task fails visibly (the next run retries)
    return {
        "devices": report.devices,
        "created": report.created[:100],
        "repaired": report.repaired[:100],
        "deleted": report.deleted[:100],
        "errors": dict(list(report.errors.items())[:100]),
        "service_clients": report.service_clients,
    }


# Historical series imports run in the worker; recovery resumes those whose worker died.
# See datahub.iot.services.series_imports for the mechanism (checkpoint, heartbeat, lease).


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
    from datahub.iot.services.series_imports import series_import_execute

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
    from datahub.iot.services.series_imports import series_imports_recover

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
