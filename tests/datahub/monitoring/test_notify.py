"""Notifications: preferences and quiet hours, real SMTP on loopback, alerts reaching staff webhooks
(event subscriptions) signed with retries against a local HTTP server, escalation."""

import hashlib
import hmac
import json
import threading
from datetime import datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from cityos.models import EventDelivery
from cityos.roles import Role
from cityos.webhooks.tasks import event_deliver
from datahub.models import (
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationPreference,
)
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services import notify
from datahub.monitoring.services import webhooks as webhook_services
from datahub.monitoring.tasks import deliver_email
from tests.datahub.monitoring.factories import BEIJING, make_rule
from tests.factories import make_department, make_user
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


def _raise(rule, key="ds:1", value=200.0):
    alert, _ = svc.alert_raise(rule=rule, subject_key=key, at=timezone.now(), value=value)
    return alert


# --- preferences and quiet hours -------------------------------------------------------------------


def test_it_notifies_department_members_in_the_app_and_by_email_for_major_alerts_by_default(department):
    member = make_user(department=department, email="m@example.org")
    outsider = make_user()
    alert = _raise(make_rule(params={"threshold": 1}, severity="major", department_id=department.id))
    notify.notify_alert(alert_id=alert.id, reason="raised")
    got = set(Notification.objects.values_list("user_id", "channel", "status"))
    assert got == {(member.id, "in_app", "sent"), (member.id, "email", "pending")}
    assert not Notification.objects.filter(user=outsider).exists()


def test_it_filters_by_severity_and_rule_kind_per_channel(department):
    member = make_user(department=department)
    NotificationPreference.objects.create(user=member, channel="in_app", min_severity="critical")
    NotificationPreference.objects.create(user=member, channel="email", min_severity="info", rule_kinds=["no_data"])
    alert = _raise(make_rule(params={"threshold": 1}, severity="major", department_id=department.id))
    assert notify.notify_alert(alert_id=alert.id, reason="raised") == 0
    assert not Notification.objects.exists()


def test_it_defers_non_critical_alerts_in_quiet_hours_and_sends_them_when_they_end(department):
    member = make_user(department=department)
    NotificationPreference.objects.create(
        user=member, channel="in_app", quiet_start=time(22, 0), quiet_end=time(7, 0), quiet_action="defer"
    )
    NotificationPreference.objects.create(user=member, channel="email", enabled=False)
    night = datetime(2026, 3, 2, 23, 30, tzinfo=BEIJING)  # local time (Asia/Shanghai)
    minor = _raise(make_rule(params={"threshold": 1}, severity="minor", department_id=department.id))
    critical = _raise(make_rule(name="Fire", params={"threshold": 1}, severity="critical", department_id=department.id))
    notify.notify_alert(alert_id=minor.id, reason="raised", now=night)
    notify.notify_alert(alert_id=critical.id, reason="raised", now=night)
    deferred = Notification.objects.get(alert=minor)
    assert deferred.status == "deferred"
    assert timezone.localtime(deferred.deliver_after) == datetime(2026, 3, 3, 7, 0, tzinfo=BEIJING)
    assert Notification.objects.get(alert=critical).status == "sent"  # critical ignores quiet hours
    assert notify.deferred_flush(now=night + timedelta(hours=1)) == 0
    assert notify.deferred_flush(now=night + timedelta(hours=8)) == 1
    deferred.refresh_from_db()
    assert deferred.status == "sent"


def test_it_suppresses_non_critical_alerts_in_quiet_hours_when_asked(department):
    member = make_user(department=department)
    NotificationPreference.objects.create(
        user=member, channel="in_app", quiet_start=time(12, 0), quiet_end=time(14, 0), quiet_action="suppress"
    )
    noon = datetime(2026, 3, 2, 12, 30, tzinfo=BEIJING)
    alert = _raise(make_rule(params={"threshold": 1}, severity="warning", department_id=department.id))
    notify.notify_alert(alert_id=alert.id, reason="raised", now=noon)
    assert Notification.objects.get(channel="in_app").status == "suppressed"


# --- email through a real SMTP server on loopback -----------------------------------------------------


@pytest.fixture
def smtp_server(settings):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield inbox
    controller.stop()


def test_it_emails_an_alert_through_smtp(department, smtp_server):
    member = make_user(department=department, email="duty@example.org")
    alert = _raise(
        make_rule(name="PM2.5 high", params={"threshold": 1}, severity="critical", department_id=department.id)
    )
    notify.notify_alert(alert_id=alert.id, reason="raised")
    note = Notification.objects.get(user=member, channel="email")
    assert deliver_email(note.id) is True
    assert deliver_email(note.id) is False  # idempotent: a second run sends nothing
    assert len(smtp_server.messages) == 1
    rcpt, content = smtp_server.messages[0]
    assert rcpt == ["duty@example.org"]
    assert "Subject:" in content and "PM2.5 high" in content.replace("=\n", "")
    note.refresh_from_db()
    assert note.status == "sent"


# --- webhooks against a local HTTP server -------------------------------------------------------------


@pytest.fixture
def hook_server():
    """An HTTP server on 127.0.0.1 that fails the first `fail` requests with 503, then answers 200."""

    class State:
        fail = 0
        requests: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            State.requests.append((dict(self.headers), body))
            code = 503 if len(State.requests) <= State.fail else 200
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    State.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    State.requests = []
    yield State
    server.shutdown()
    server.server_close()


def _staff_webhook(url, **kw):
    """A monitoring webhook: the city's own event subscription to alerts, made by an administrator."""
    admin = make_user(role=Role.ADMINISTRATOR)
    return webhook_services.webhook_create(created_by=admin, name="ops", url=url, **kw)


def _raise_committed(rule, capture, key="ds:1", value=200.0):
    # After commit the event log's alert.* event fans out to subscriptions (cityos.webhooks.sources).
    with capture(execute=True):
        alert = _raise(rule, key=key, value=value)
    return alert


def test_an_alert_reaches_a_staff_webhook_once_signed_after_retrying_failures(
    hook_server, department, django_capture_on_commit_callbacks
):
    hook_server.fail = 2
    sub, secret = _staff_webhook(hook_server.url, max_attempts=5)
    alert = _raise_committed(
        make_rule(params={"threshold": 1}, department_id=department.id), django_capture_on_commit_callbacks
    )
    (delivery,) = EventDelivery.objects.filter(subscription=sub)  # one delivery: no second (old) path
    assert delivery.event == "alert.raised"
    event_deliver.apply(args=[delivery.id])  # eager: the task's retries run in-process, without waiting

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert [a["status_code"] for a in delivery.attempt_log] == [503, 503, 200]
    assert len(hook_server.requests) == 3
    headers, body = hook_server.requests[-1]
    expected = hmac.new(secret.encode(), headers["X-CityOS-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-CityOS-Signature"] == "sha256=" + expected.hexdigest()
    envelope = json.loads(body)
    assert envelope["event"] == "alert.raised" and envelope["severity"] == alert.severity
    assert envelope["data"]["alert_id"] == alert.id and envelope["data"]["department_id"] == department.id
    assert envelope["data"]["title"] == alert.title


def test_a_staff_webhook_keeps_to_its_department_severity_and_events(
    hook_server, department, django_capture_on_commit_callbacks
):
    other = make_department(name="Other bureau")
    mine, _ = _staff_webhook(hook_server.url, department_id=department.id, events=["alert.raised"])
    theirs, _ = _staff_webhook(hook_server.url, department_id=other.id)
    critical_only, _ = _staff_webhook(hook_server.url, min_severity="critical")
    rule = make_rule(params={"threshold": 1}, department_id=department.id, severity="major")
    alert = _raise_committed(rule, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        svc.alert_clear(alert=alert, at=timezone.now(), reason="manual")
    got = sorted(EventDelivery.objects.values_list("subscription_id", "event"))
    assert got == [(mine.id, "alert.raised")]
    assert theirs.events == ["alert.raised", "alert.cleared"]  # none chosen: every alert event


def test_it_dead_letters_and_disables_a_staff_webhook_that_keeps_failing(
    hook_server, department, django_capture_on_commit_callbacks
):
    hook_server.fail = 10**6
    sub, _ = _staff_webhook(hook_server.url, max_attempts=2, disable_after=2)
    rule = make_rule(params={"threshold": 1}, department_id=department.id)
    for key in ("ds:1", "ds:2"):
        _raise_committed(rule, django_capture_on_commit_callbacks, key=key)
        delivery = EventDelivery.objects.filter(subscription=sub).order_by("-id").first()
        event_deliver.apply(args=[delivery.id])
    assert list(EventDelivery.objects.values_list("status", "attempts")) == [("dead", 2), ("dead", 2)]
    sub.refresh_from_db()
    assert sub.is_active is False and sub.disabled_at is not None
    _raise_committed(rule, django_capture_on_commit_callbacks, key="ds:3")
    assert EventDelivery.objects.count() == 2  # a disabled webhook hears nothing more
    assert len(hook_server.requests) == 4


def test_notify_sends_no_webhook_of_its_own(hook_server, department):
    _staff_webhook(hook_server.url)
    alert = _raise(make_rule(params={"threshold": 1}, department_id=department.id))  # not committed: no fan-out
    notify.notify_alert(alert_id=alert.id, reason="raised")
    assert not EventDelivery.objects.exists() and not hook_server.requests


# --- escalation ----------------------------------------------------------------------------------


def test_it_escalates_an_unacknowledged_alert_level_by_level_until_acknowledged(department):
    duty, chief = make_user(department=department), make_user(department=department, role="city_leader")
    policy = EscalationPolicy.objects.create(department=department, repeat_minutes=30)
    EscalationLevel.objects.create(policy=policy, level=1, after_minutes=10).users.add(duty)
    EscalationLevel.objects.create(policy=policy, level=2, after_minutes=20, roles=["city_leader"])
    rule = make_rule(params={"threshold": 1}, department_id=department.id)
    alert = _raise(rule)
    start = alert.next_escalation_at
    assert start is not None

    assert notify.escalate_due(now=start - timedelta(minutes=1)) == 0
    assert notify.escalate_due(now=start) == 1
    assert notify.escalate_due(now=start) == 0  # idempotent: the step was claimed
    assert set(Notification.objects.filter(reason="escalation:1").values_list("user_id", flat=True)) == {duty.id}
    assert notify.escalate_due(now=start + timedelta(minutes=20)) == 1
    assert set(Notification.objects.filter(reason="escalation:2").values_list("user_id", flat=True)) == {chief.id}
    # Past the last level: the last level again every repeat_minutes.
    assert notify.escalate_due(now=start + timedelta(minutes=50)) == 1
    assert Notification.objects.filter(reason="escalation:3", user=chief).exists()
    svc.alert_acknowledge(alert=alert, actor=duty)
    assert notify.escalate_due(now=start + timedelta(days=1)) == 0
    assert alert.history.filter(action="escalated").count() == 3
