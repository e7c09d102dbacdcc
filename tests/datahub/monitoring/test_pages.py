"""The monitoring pages (server side) and the live push of an alert over the WebSocket."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from cityos.asgi import application
from datahub.models import AlertRule, NotificationPreference
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services.evaluate import on_observations
from tests.datahub.monitoring.factories import make_rule


@pytest.mark.django_db
def test_it_shows_the_console_with_critical_alerts_marked(client, user, department):
    rule = make_rule(name="Gas leak", params={"threshold": 1}, severity="critical", department_id=department.id)
    svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=5)
    client.force_login(user)
    html = client.get("/monitoring/").content.decode()
    assert "Gas leak" in html
    assert 'class="alert-row sev-critical critical"' in html
    partial = client.get("/monitoring/?partial=1").content.decode()
    assert "<html" not in partial and "Gas leak" in partial


@pytest.mark.django_db
def test_it_acknowledges_and_assigns_from_the_console_form(client, user, department):
    rule = make_rule(params={"threshold": 1}, department_id=department.id)
    alert, _ = svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=5)
    client.force_login(user)
    client.post("/monitoring/actions/", {"row_ack": alert.id, "next": "/monitoring/"})
    client.post("/monitoring/actions/", {"ids": [alert.id], "action": "assign", "assignee": user.id})
    alert.refresh_from_db()
    assert alert.acknowledged and alert.assignee_id == user.id


@pytest.mark.django_db
def test_it_saves_a_rule_from_the_editor_and_reports_bad_parameters(client, user):
    client.force_login(user)
    form = {
        "name": "High PM",
        "kind": "threshold",
        "severity": "major",
        "metric": "pm25",
        "department": user.department_id,  # an officer's rules are their department's
        "is_active": "on",
        "params": json.dumps({"threshold": 150, "duration_s": 7200}),
    }
    resp = client.post("/monitoring/rules/new/", form)
    rule = AlertRule.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/monitoring/rules/{rule.id}/"
    resp = client.post(f"/monitoring/rules/{rule.id}/", {**form, "params": '{"threshold": "high"}'})
    assert resp.status_code == 200
    assert "params.threshold must be a number" in resp.content.decode()
    rule.refresh_from_db()
    assert rule.params["threshold"] == 150 and rule.revision == 1


@pytest.mark.django_db
def test_it_saves_notification_preferences_per_channel(client, user):
    client.force_login(user)
    resp = client.post(
        "/monitoring/preferences/",
        {
            "in_app-enabled": "on",
            "in_app-min_severity": "minor",
            "in_app-quiet_action": "defer",
            "in_app-quiet_start": "22:00",
            "in_app-quiet_end": "07:00",
            "in_app-rule_kinds": ["threshold", "no_data"],
            "email-min_severity": "critical",
            "email-quiet_action": "suppress",
        },
    )
    assert resp.status_code == 302
    prefs = {p.channel: p for p in NotificationPreference.objects.filter(user=user)}
    assert prefs["in_app"].enabled and prefs["in_app"].rule_kinds == ["threshold", "no_data"]
    assert not prefs["email"].enabled and prefs["email"].min_severity == "critical"


@pytest.mark.django_db(transaction=True)
def test_it_pushes_a_raised_alert_to_the_departments_open_page(client, user, department):
    make_rule(params={"threshold": 100}, severity="critical", department_id=department.id)
    client.force_login(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
    ]
    obs = {"datastream_id": 3, "metric": "pm25", "device_type": "air", "area_id": None, "subject_id": None}

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        assert (await comm.connect(timeout=20))[0]
        await comm.receive_json_from(timeout=20)  # hello
        await sync_to_async(on_observations)([{**obs, "time": timezone.now(), "value": 180}])
        got = []
        while True:
            msg = await comm.receive_json_from(timeout=20)
            got.append(msg)
            if msg["event"] == "alert.raised":
                break
        await comm.disconnect()
        return got

    messages = asyncio.run(scenario())
    raised = messages[-1]["data"]
    assert raised["severity"] == "critical" and raised["critical"] is True and raised["status"] == "active"
