"""Monitoring webhooks: the city's own event subscriptions to alerts.

There is one webhook mechanism, the open platform's event subscriptions (cityos.webhooks): a
monitoring webhook is an EventSubscription without an application (made by staff), subscribed to
`alert.raised` and/or `alert.cleared`, optionally kept to one department and a minimum severity.
Alerts reach it as every other subscriber hears of them (the event log's `alert.*` events, fanned
out by cityos.webhooks.sources), so each alert is delivered once, signed, with retries, dead
letters, replay and automatic disabling. These functions keep the monitoring pages' and API's
vocabulary (create with a generated secret returned once, update, re-enable, rotate, test, delete)."""

from __future__ import annotations

from django.db import transaction

from cityos.models import EventDelivery, EventSubscription
from cityos.webhooks import services as subscriptions
from datahub.monitoring.models import WebhookEvent

EDITABLE = ["name", "url", "department_id", "min_severity", "events", "max_attempts", "disable_after"]


class WebhookError(ValueError):
    """Bad input: `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _fields(fields: dict) -> dict:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise WebhookError(sorted(unknown)[0], "not an editable field")
    out = dict(fields)
    if "events" in out:
        events = list(dict.fromkeys(out["events"] or []))
        bad = [e for e in events if e not in WebhookEvent.values]
        if bad:
            raise WebhookError(
                "events", f"unknown events {', '.join(map(str, bad))} (known: {', '.join(WebhookEvent.values)})"
            )
        out["events"] = events or list(WebhookEvent.values)  # none chosen: every alert event
    if out.get("min_severity") is None and "min_severity" in out:
        out["min_severity"] = ""
    return out


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except subscriptions.SubscriptionError as exc:
        raise WebhookError(exc.field, exc.message) from exc


def webhook_create(*, created_by, secret: str | None = None, **fields) -> tuple[EventSubscription, str]:
    """A new enabled staff subscription to alerts and its signing secret, which the caller shows once
    (`secret`: one the caller chose, as the API allows)."""
    clean = _fields(fields)
    clean.setdefault("events", list(WebhookEvent.values))
    with transaction.atomic():
        sub, generated = _call(subscriptions.subscription_create, application=None, created_by=created_by, **clean)
        if secret:
            EventSubscription.objects.filter(id=sub.id).update(secret=secret)
            sub.secret = secret
    return sub, secret or generated


def webhook_update(*, endpoint: EventSubscription, secret: str | None = None, **fields) -> EventSubscription:
    sub = _call(subscriptions.subscription_update, subscription=endpoint, **_fields(fields))
    if secret:
        EventSubscription.objects.filter(id=sub.id).update(secret=secret)
        sub.secret = secret
    return sub


def webhook_disable(*, endpoint: EventSubscription, actor) -> bool:
    """Switch off by hand (the reason names who); False if it was already off."""
    return subscriptions.subscription_disable(subscription=endpoint, actor=actor)


def webhook_reenable(*, endpoint: EventSubscription) -> bool:
    """On again with a clean failure count; False if it was on already. Dead letters stay in the
    log; they can be replayed one by one."""
    return subscriptions.subscription_enable(subscription=endpoint)


def webhook_rotate_secret(*, endpoint: EventSubscription) -> str:
    """A new signing secret (the old one stops working at once); returned once."""
    return subscriptions.subscription_rotate_secret(subscription=endpoint)


def webhook_send_test(*, endpoint: EventSubscription, actor=None) -> EventDelivery:
    """Queue one signed test POST (event "subscription.test"), enabled or not; it shows in the log."""
    return subscriptions.subscription_send_test(subscription=endpoint)


def webhook_redeliver(*, delivery: EventDelivery) -> EventDelivery:
    """Replay a dead letter: fresh attempts, its subscription enabled again."""
    return subscriptions.delivery_replay(delivery=delivery)


def webhook_delete(*, endpoint: EventSubscription) -> None:
    subscriptions.subscription_delete(subscription=endpoint)  # its delivery log goes with it
