"""Pulling internet sources and watching public opinion."""

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="datahub.fetch_source",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=600,
)
def fetch_source(source_id: int) -> dict:
    """Beat runs this per internet source; fetch failures are recorded on the Run, not raised."""
    from datahub.text.services.internet import source_fetch

    run = source_fetch(source_id=source_id)
    if run is None:
        return {"skipped": "a pull of this source is already running"}
    return {"run_id": run.id, "status": run.status, "stored": run.rows_stored}


@shared_task(
    name="datahub.opinion_detect_spikes",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=300,
)
def opinion_detect_spikes() -> dict:
    from datahub.text.services.opinion import opinion_detect_spikes as detect

    spikes = detect()
    return {"spikes": len(spikes)}
