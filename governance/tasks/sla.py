from celery import shared_task
from django.db import OperationalError

from governance.services.supervision import sla_scan


@shared_task(
    name="governance.sla_scan",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    soft_time_limit=240,
)
def sla_scan_task() -> dict:
    """Warnings, overdue escalations, overdue supervision orders. Safe to run twice."""
    return sla_scan()
