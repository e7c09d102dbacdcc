"""The monitoring API: rules (validation, preview over a registered series reader), alerts."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from cityos.models import EventSubscription
from cityos.roles import Role
from datahub import facade
from datahub.models import Alert, AlertRule, Area
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services.preview import register_series_reader, unregister_series_reader
from tests.datahub.monitoring.factories import BEIJING, make_rule, read_station
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db
RULES = "/api/v1/datahub/alert-rules/"
ALERTS = "/api/v1/datahub/alerts/"


def test_it_creates_a_rule_through_the_api(auth_client, department):
    resp = auth_client.post(
        RULES,
        {
            "name": "PM2.5 > 150 for 2 h",
            "kind": "threshold",
            "metric": "pm25",
            "severity": "major",
            "params": {"op": ">", "threshold": 150, "duration_s": 7200},
            "department": department.id,
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    rule = AlertRule.objects.get()
    assert (rule.kind, rule.metric, rule.params["threshold"], rule.department_id) == (
        "threshold",
        "pm25",
        150,
        department.id,
    )


def test_it_rejects_bad_rule_parameters_naming_the_parameter(auth_client):
    resp = auth_client.post(
        RULES, {"name": "x", "kind": "threshold", "metric": "pm25", "params": {"op": ">"}}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"params": ["params.threshold is required"]}
    resp = auth_client.post(RULES, {"name": "x", "kind": "threshold", "params": {"threshold": 1}}, format="json")
    assert "metric" in resp.json()["error"]["fields"]


@pytest.fixture
def beijing_reader(data_dir):
    """A fake observation store: Dongsi PM2.5 of 7 days of January 2014, as datastream 1."""
    rows = [(at, v) for at, v in read_station(data_dir, "Dongsi", year_month_from=(2014, 1), months=1) if v is not None]
    calls = []

    def reader(scope, since, until):
        calls.append(scope)
        if scope["metric"] != "pm25":
            return []
        return [
            {
                "datastream_id": 1,
                "time": at,
                "value": v,
                "metric": "pm25",
                "device_type": "air",
                "area_id": None,
                "subject_id": None,
            }
            for at, v in rows
            if since < at <= until
        ]

    register_series_reader(reader)
    reader.rows, reader.calls = rows, calls
    yield reader
    unregister_series_reader(reader)


def test_it_previews_when_a_series_rule_would_have_fired_in_the_last_7_days(auth_client, beijing_reader):
    until = datetime(2014, 1, 20, tzinfo=BEIJING)
    resp = auth_client.post(
        RULES + "preview/",
        {
            "kind": "threshold",
            "metric": "pm25",
            "params": {"threshold": 150, "duration_s": 7200, "clear_threshold": 100},
            "until": until.isoformat(),
        },
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    # Independent: scan the week's hourly readings for 3 in a row > 150, clear at the next <= 100.
    week = [(at, v) for at, v in beijing_reader.rows if until - timedelta(days=7) < at <= until]
    expected, active, run = [], False, 0
    for at, v in week:
        if not active:
            run = run + 1 if v > 150 else 0
            if run >= 3:
                active, run = True, 0
                expected.append([at, None])
        elif v <= 100:
            expected[-1][1] = at
            active = False
    got = [
        [datetime.fromisoformat(e["raised_at"]), e["cleared_at"] and datetime.fromisoformat(e["cleared_at"])]
        for e in body["episodes"]
    ]
    assert body["points"] == len(week)
    assert len(expected) >= 1
    assert got == expected
    assert beijing_reader.calls[0]["metric"] == "pm25"


def test_it_previews_an_event_count_rule_from_the_event_table(auth_client):
    street = Area.objects.create(code="s", name="街", level="street")
    now = timezone.now()
    for minutes in (300, 290, 280, 100):
        facade.event_record(type="complaint.noise", area_id=street.id, occurred_at=now - timedelta(minutes=minutes))
    resp = auth_client.post(
        RULES + "preview/",
        {"kind": "event_count", "params": {"event_type": "complaint.noise", "window_s": 3600, "count": 3}},
        format="json",
    )
    episodes = resp.json()["episodes"]
    assert len(episodes) == 1
    ep = episodes[0]
    assert ep["subject_key"] == f"area:{street.id}" and ep["value"] == 3
    # Raised at the 3rd event, cleared when the 1st leaves the hour window.
    assert datetime.fromisoformat(ep["raised_at"]) == now - timedelta(minutes=280)
    assert datetime.fromisoformat(ep["cleared_at"]) == now - timedelta(minutes=240)


def test_it_lists_alerts_in_few_queries_and_scopes_them_to_the_department(
    auth_client, department, django_assert_max_num_queries
):
    rule = make_rule(params={"threshold": 1}, department_id=department.id)
    for i in range(15):
        svc.alert_raise(rule=rule, subject_key=f"ds:{i}", at=timezone.now(), value=2)
    foreign = make_rule(name="foreign", params={"threshold": 1}, department_id=make_department().id)
    svc.alert_raise(rule=foreign, subject_key="ds:1", at=timezone.now(), value=2)
    with django_assert_max_num_queries(8):
        resp = auth_client.get(ALERTS, {"status": "active"})
    assert resp.status_code == 200
    assert resp.json()["count"] == 15


def test_it_acknowledges_comments_and_bulk_clears_alerts(auth_client, user, department):
    rule = make_rule(params={"threshold": 1}, department_id=department.id)
    a1, _ = svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=2)
    a2, _ = svc.alert_raise(rule=rule, subject_key="ds:2", at=timezone.now(), value=2)
    assert auth_client.post(f"{ALERTS}{a1.id}/acknowledge/").json()["acknowledged"] is True
    assert auth_client.post(f"{ALERTS}{a1.id}/comments/", {"text": "on it"}, format="json").status_code == 201
    resp = auth_client.post(ALERTS + "bulk/", {"ids": [a1.id, a2.id], "action": "clear"}, format="json")
    assert resp.json() == {"changed": 2}
    assert set(Alert.objects.values_list("status", flat=True)) == {"cleared"}
    history = auth_client.get(f"{ALERTS}{a1.id}/history/").json()["results"]
    assert [h["action"] for h in history] == ["raised", "acknowledged", "commented", "cleared"]
    resp = auth_client.post(f"{ALERTS}{a1.id}/clear/")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "already_cleared"
    resp = auth_client.post(ALERTS + "bulk/", {"ids": [a1.id, 999999], "action": "acknowledge"}, format="json")
    assert resp.status_code == 404 and "999999" in resp.json()["error"]["message"]


def test_it_keeps_webhooks_for_administrators(auth_client, api_client):
    assert auth_client.get("/api/v1/datahub/webhooks/").status_code == 403
    admin = make_user(role=Role.ADMINISTRATOR)
    api_client.force_authenticate(admin)
    resp = api_client.post(
        "/api/v1/datahub/webhooks/",
        {"name": "ops", "url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef!"},
        format="json",
    )
    assert resp.status_code == 201 and "secret" not in resp.json()


def test_the_webhook_api_is_a_thin_adapter_over_staff_event_subscriptions(
    api_client, department, django_capture_on_commit_callbacks
):
    admin = make_user(role=Role.ADMINISTRATOR)
    api_client.force_authenticate(admin)
    resp = api_client.post(
        "/api/v1/datahub/webhooks/",
        {
            "name": "ops",
            "url": "http://127.0.0.1:9/x",
            "secret": "0123456789abcdef!",
            "department": department.id,
            "min_severity": "major",
            "max_attempts": 3,
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert {k: body[k] for k in ("department", "min_severity", "events", "is_active", "max_attempts")} == {
        "department": department.id,
        "min_severity": "major",
        "events": ["alert.raised", "alert.cleared"],  # none given: every alert event
        "is_active": True,
        "max_attempts": 3,
    }
    sub = EventSubscription.objects.get(id=body["id"])
    assert sub.application is None and sub.secret == "0123456789abcdef!" and sub.created_by == admin
    bad = api_client.post(
        "/api/v1/datahub/webhooks/",
        {"name": "x", "url": "http://x.example/", "secret": "0123456789abcdef!", "events": ["case.created"]},
        format="json",
    )
    assert bad.status_code == 400 and "events" in str(bad.json())
    resp = api_client.patch(f"/api/v1/datahub/webhooks/{sub.id}/", {"is_active": False}, format="json")
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    assert admin.username in resp.json()["disabled_reason"]
    assert api_client.post(f"/api/v1/datahub/webhooks/{sub.id}/reenable/").json()["is_active"] is True

    with django_capture_on_commit_callbacks(execute=True):
        alert, _ = svc.alert_raise(
            rule=make_rule(params={"threshold": 1}, severity="critical", department_id=department.id),
            subject_key="ds:1",
            at=timezone.now(),
            value=2,
        )
    test = api_client.post(f"/api/v1/datahub/webhooks/{sub.id}/test/")
    assert test.status_code == 202
    rows = api_client.get("/api/v1/datahub/webhook-deliveries/", {"endpoint": sub.id}).json()["results"]
    assert [(r["endpoint"], r["event"], r["alert"]) for r in rows] == [
        (sub.id, "subscription.test", None),
        (sub.id, "alert.raised", alert.id),
    ]
    assert api_client.get("/api/v1/datahub/webhook-deliveries/", {"status": "dead"}).json()["results"] == []
    assert api_client.delete(f"/api/v1/datahub/webhooks/{sub.id}/").status_code == 204
    assert not EventSubscription.objects.exists()
