"""The migration that turns the monitoring webhooks into the city's own event subscriptions
(datahub 0017): settings, secret, failure state and the delivery log move along."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("datahub", "0017_search_suggestions_validity")]
AFTER = [("datahub", "0018_monitoring_webhooks_to_event_subscriptions")]


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    # None: forward to every leaf (later tests need the whole schema).
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets or AFTER).apps


@pytest.mark.django_db(transaction=True)
def test_each_webhook_endpoint_becomes_a_staff_subscription_with_its_log():
    old = _migrate(BEFORE)
    try:
        Department = old.get_model("datahub", "Department")
        Endpoint = old.get_model("datahub", "WebhookEndpoint")
        Delivery = old.get_model("datahub", "WebhookDelivery")
        dept = Department.objects.create(code="env", name="生态环境局", kind="bureau", path="/")
        long_ago = timezone.now() - timedelta(days=3)
        off = Endpoint.objects.create(
            name="ops",
            url="https://hooks.example.org/a",
            secret="old-secret-0123456789",
            department=dept,
            min_severity="major",
            events=["alert.cleared"],
            is_active=False,
            max_attempts=4,
            disable_after=2,
            consecutive_failures=2,
            disabled_at=long_ago,
            disabled_reason="Disabled automatically",
        )
        Endpoint.objects.create(name="all", url="https://hooks.example.org/b", secret="s" * 20)
        dead = Delivery.objects.create(
            endpoint=off,
            event="alert.cleared",
            payload={"event": "alert.cleared", "alert": {"id": 41, "title": "PM2.5", "severity": "major"}},
            status="dead",
            attempts=4,
            attempt_log=[{"at": long_ago.isoformat(), "status_code": 503, "error": "HTTP 503", "ms": 3.0}],
            last_status_code=503,
        )
        Delivery.objects.filter(id=dead.id).update(created_at=long_ago)
        Delivery.objects.create(endpoint=off, event="webhook.test", payload={"event": "webhook.test"})
    finally:
        new = _migrate()

    Subscription = new.get_model("cityos", "EventSubscription")
    EventDelivery = new.get_model("cityos", "EventDelivery")
    ops = Subscription.objects.get(name="ops")
    assert ops.application_id is None and ops.secret == "old-secret-0123456789"
    assert (ops.url, ops.department_id, ops.min_severity, ops.events) == (
        "https://hooks.example.org/a",
        dept.id,
        "major",
        ["alert.cleared"],
    )
    assert (ops.is_active, ops.max_attempts, ops.disable_after, ops.consecutive_failures) == (False, 4, 2, 2)
    assert ops.disabled_at == long_ago and ops.disabled_reason == "Disabled automatically"
    assert Subscription.objects.get(name="all").events == ["alert.raised", "alert.cleared"]  # empty meant every
    log = {d.event: d for d in EventDelivery.objects.filter(subscription=ops)}
    assert set(log) == {"alert.cleared", "subscription.test"}
    moved = log["alert.cleared"]
    assert (moved.status, moved.attempts, moved.last_status_code, moved.created_at) == ("dead", 4, 503, long_ago)
    assert moved.payload["data"]["alert_id"] == 41 and moved.payload["data"]["title"] == "PM2.5"
    assert moved.attempt_log[0]["status_code"] == 503 and str(moved.event_id) == moved.payload["id"]
    assert "datahub_webhookendpoint" not in connection.introspection.table_names()
