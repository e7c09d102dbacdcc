from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
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
    from datahub.services.iot_partitions import observation_partitions_ensure

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
    from datahub.models import IngestBatch

    cutoff = timezone.now() - timedelta(days=INGEST_BATCH_KEEP_DAYS)
    deleted, _ = IngestBatch.objects.filter(committed_at__lt=cutoff).delete()
    return deleted
