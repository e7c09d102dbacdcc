from celery import shared_task


@shared_task(name="cityos.ping", acks_late=False, ignore_result=False, soft_time_limit=10)
def ping(nonce: str = "pong") -> dict:
    """A real round trip through a worker: used by /health/ and the test suite."""
    import os
    import socket

    return {"token": nonce, "worker": f"{socket.gethostname()}:{os.getpid()}"}


@shared_task(name="cityos.api_usage_flush", acks_late=True, soft_time_limit=300)
def api_usage_flush() -> int:
    """Move the API keys' call counters from Redis into ApiUsage (beat, every minute; safe to run twice)."""
    from cityos.api.keys import usage_flush

    return usage_flush()


# Tasks of the event subscriptions (registered with the worker through this module).
from cityos.webhooks.tasks import event_deliver, event_deliveries_sweep  # noqa: E402, F401


@shared_task(name="cityos.api_usage_monthly_report", acks_late=True, soft_time_limit=1800)
def api_usage_monthly_report() -> int:
    """Beat, on the 1st: last month's usage report per organisation, written and e-mailed."""
    from cityos.api import keys, reports

    keys.usage_flush()
    return len(reports.usage_report_write(month=reports.previous_month(), email=True)) // 2
