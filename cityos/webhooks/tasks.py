"""Celery tasks of event subscriptions: one per delivery (retried with exponential backoff), a sweep."""

from celery import shared_task


@shared_task(name="cityos.event_deliver", bind=True, acks_late=True, soft_time_limit=60, max_retries=None)
def event_deliver(self, delivery_id: int) -> str:
    """One attempt; on failure the task retries itself when the delivery's backoff says (the
    attempt count and the dead letter live in the row, so a retry run twice changes nothing)."""
    from . import services

    outcome = services.delivery_attempt(delivery_id=delivery_id)
    if outcome == "retry":
        raise self.retry(countdown=services.delivery_retry_delay_s(delivery_id=delivery_id))
    return outcome


@shared_task(name="cityos.event_deliveries_sweep", acks_late=True, soft_time_limit=120)
def event_deliveries_sweep() -> int:
    from . import services

    return services.deliveries_sweep()
