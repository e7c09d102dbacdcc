"""The monitoring webhooks become the city's own event subscriptions (cityos.EventSubscription
without an application): one webhook mechanism. Each endpoint keeps its URL, secret, department,
minimum severity, events (empty meant every alert event), attempt settings and failure state; its
delivery log moves along (payloads in the subscription envelope, so replays send that shape)."""

import uuid

from django.db import migrations

ALERT_EVENTS = ["alert.raised", "alert.cleared"]
OLD_TEST_EVENT, NEW_TEST_EVENT = "webhook.test", "subscription.test"


def _envelope(delivery) -> dict:
    old = delivery.payload or {}
    alert = old.get("alert") or {}
    event = NEW_TEST_EVENT if delivery.event == OLD_TEST_EVENT else delivery.event
    if event == NEW_TEST_EVENT:
        data = {"subscription_id": delivery.endpoint_id, "name": (old.get("endpoint") or {}).get("name")}
    else:
        data = {
            "alert_id": alert.get("id", delivery.alert_id),
            "rule_id": alert.get("rule_id"),
            "severity": alert.get("severity"),
            "value": alert.get("value"),
            "title": alert.get("title"),
            "department_id": alert.get("department_id"),
        }
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "occurred_at": (old.get("sent_at") or alert.get("raised_at") or delivery.created_at.isoformat()),
        "area_id": alert.get("area_id"),
        "category": None,
        "severity": alert.get("severity"),
        "data": data,
    }


def forwards(apps, schema_editor):
    WebhookEndpoint = apps.get_model("datahub", "WebhookEndpoint")
    WebhookDelivery = apps.get_model("datahub", "WebhookDelivery")
    EventSubscription = apps.get_model("cityos", "EventSubscription")
    EventDelivery = apps.get_model("cityos", "EventDelivery")
    for ep in WebhookEndpoint.objects.order_by("id"):
        sub = EventSubscription.objects.create(
            application=None,
            name=ep.name,
            url=ep.url,
            secret=ep.secret,
            events=[e for e in ALERT_EVENTS if not ep.events or e in ep.events],
            department_id=ep.department_id,
            min_severity=ep.min_severity or "",
            is_active=ep.is_active,
            max_attempts=ep.max_attempts,
            disable_after=ep.disable_after,
            consecutive_failures=ep.consecutive_failures,
            disabled_at=ep.disabled_at,
            disabled_reason=ep.disabled_reason,
        )
        EventSubscription.objects.filter(id=sub.id).update(created_at=ep.created_at)
        for d in WebhookDelivery.objects.filter(endpoint_id=ep.id).order_by("id").iterator(chunk_size=1000):
            envelope = _envelope(d)
            row = EventDelivery.objects.create(
                subscription_id=sub.id,
                event_id=envelope["id"],
                event=envelope["event"],
                payload=envelope,
                status=d.status,
                attempts=d.attempts,
                attempt_log=d.attempt_log,
                last_status_code=d.last_status_code,
                next_attempt_at=d.next_attempt_at,
                delivered_at=d.delivered_at,
            )
            # auto_now_add stamped now: keep the log's real times (pending/retrying rows are picked
            # up by the event deliveries' sweep, which goes by these times).
            EventDelivery.objects.filter(id=row.id).update(created_at=d.created_at)


class Migration(migrations.Migration):
    dependencies = [
        ("datahub", "0017_search_suggestions_validity"),
        ("cityos", "0008_event_subscriptions_of_staff"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="webhookendpoint",
            name="department",
        ),
        migrations.DeleteModel(
            name="WebhookDelivery",
        ),
        migrations.DeleteModel(
            name="WebhookEndpoint",
        ),
    ]
