"""Domain events between apps: published after commit, handled by subscribers in other apps.

    # governance/apps.py, in ready():
    bus.subscribe("monitoring.alert_raised", "governance.subscribers.on_alert_raised")

    # the publisher, inside its service's transaction:
    bus.publish("monitoring.alert_raised", {"alert_id": 7, ...})

Handlers are named by dotted path (so the publisher imports nothing of the subscriber) and take
the payload dict (JSON-serialisable: ids and primitives). Delivery happens after the publishing
transaction commits, in a Celery task per handler (acks_late, retried), so a failing subscriber
never breaks the publisher. With DOMAIN_EVENTS_EAGER (tests) handlers run in-process on commit.
"""

import logging
from collections import defaultdict

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)
_subscribers: dict[str, list[str]] = defaultdict(list)


def subscribe(event_type: str, handler_path: str) -> None:
    if handler_path not in _subscribers[event_type]:
        _subscribers[event_type].append(handler_path)


def subscribers(event_type: str) -> list[str]:
    return list(_subscribers.get(event_type, []))


def publish(event_type: str, payload: dict) -> None:
    handlers = subscribers(event_type)
    if not handlers:
        return

    def deliver():
        for handler in handlers:
            if getattr(settings, "DOMAIN_EVENTS_EAGER", False):
                import_string(handler)(payload)
            else:
                deliver_domain_event.delay(event_type, handler, payload)

    transaction.on_commit(deliver)


@shared_task(
    name="cityos.deliver_domain_event",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 8},
    soft_time_limit=120,
)
def deliver_domain_event(event_type: str, handler: str, payload: dict) -> None:
    log.info("domain event %s -> %s", event_type, handler)
    import_string(handler)(payload)
