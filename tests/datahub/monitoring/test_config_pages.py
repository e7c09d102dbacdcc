"""Pages for escalation chains and webhooks: department scoping, permissions, the chain editor,
the secret shown once, test deliveries, auto-disabled endpoints, the delivery log."""

import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone, translation

from cityos.models import EventDelivery, EventSubscription
from cityos.roles import Role
from cityos.webhooks import services as subscriptions
from cityos.webhooks.tasks import event_deliver
from datahub.models import EscalationLevel, EscalationPolicy, Notification
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services import notify
from datahub.monitoring.services.escalation import LevelSpec, escalation_policy_save
from tests.datahub.monitoring.factories import make_rule
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db


def _levels(*levels, prefix="levels") -> dict:
    """POST data of the levels formset: each level a dict of after_minutes/users/roles/channels."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(levels)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "1",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, level in enumerate(levels):
        for name, value in level.items():
            data[f"{prefix}-{i}-{name}"] = value
    return data


def _chain(department, **extra) -> dict:
    return {"chain-department": department.id, "chain-repeat_minutes": 30, "chain-is_active": "on", **extra}


# --- escalation chains ------------------------------------------------------------------------------


def test_it_creates_a_chain_with_users_roles_and_channels_per_level(client, user, department):
    duty = make_user(department=department)
    client.force_login(user)
    resp = client.post(
        "/monitoring/escalation/new/",
        {
            **_chain(department),
            **_levels(
                {"after_minutes": 10, "users": [duty.id], "channels": ["in_app"]},
                {"after_minutes": 30, "roles": ["city_leader"], "channels": ["in_app", "email"]},
                {"after_minutes": "", "DELETE": ""},  # the blank extra row is ignored
            ),
        },
    )
    policy = EscalationPolicy.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/monitoring/escalation/{policy.id}/"
    levels = list(policy.levels.order_by("level"))
    assert [(lv.level, lv.after_minutes, lv.roles, lv.channels) for lv in levels] == [
        (1, 10, [], ["in_app"]),
        (2, 30, ["city_leader"], ["in_app", "email"]),
    ]
    assert list(levels[0].users.values_list("id", flat=True)) == [duty.id]
    page = client.get("/monitoring/escalation/").content.decode()
    assert str(department) in page and str(Role.CITY_LEADER.label) in page


def test_it_names_what_is_missing_in_a_chain(client, user, department):
    client.force_login(user)
    resp = client.post("/monitoring/escalation/new/", {**_chain(department), **_levels({"after_minutes": 10})})
    assert resp.status_code == 200
    with translation.override(resp.wsgi_request.LANGUAGE_CODE):  # the page's language (zh-hans here)
        missing = translation.gettext("Name at least one user or role to notify.")
    assert resp.context["levels"].forms[0].non_field_errors() == [missing]
    resp = client.post(
        "/monitoring/escalation/new/",
        {**_chain(department), **_levels({"after_minutes": 0, "roles": ["department_officer"]})},
    )
    assert "after_minutes" in resp.context["levels"].forms[0].errors
    assert not EscalationPolicy.objects.exists()


def test_it_edits_a_chain_removing_a_level_and_renumbering(client, user, department):
    policy = escalation_policy_save(
        department_id=department.id,
        levels=[LevelSpec(5, roles=["department_officer"]), LevelSpec(10, roles=["city_leader"])],
    )
    client.force_login(user)
    page = client.get(f"/monitoring/escalation/{policy.id}/")
    assert page.context["levels"].forms[1].initial["roles"] == ["city_leader"]
    resp = client.post(
        f"/monitoring/escalation/{policy.id}/",
        {
            **_chain(department, **{"chain-repeat_minutes": 15}),
            **_levels(
                {"after_minutes": 5, "roles": ["department_officer"], "DELETE": "on"},
                {"after_minutes": 20, "roles": ["city_leader"], "channels": ["email"]},
            ),
        },
    )
    assert resp.status_code == 302
    policy.refresh_from_db()
    assert policy.repeat_minutes == 15
    assert list(policy.levels.values_list("level", "after_minutes", "channels")) == [(1, 20, ["email"])]


def test_it_scopes_chains_to_the_users_departments_and_roles(client, department):
    child, other = make_department(parent=department), make_department()
    mine = escalation_policy_save(department_id=child.id, levels=[LevelSpec(5, roles=["department_officer"])])
    theirs = escalation_policy_save(department_id=other.id, levels=[LevelSpec(5, roles=["department_officer"])])
    officer = make_user(department=department)
    client.force_login(officer)
    page = client.get("/monitoring/escalation/")
    assert [p.id for p in page.context["policies"]] == [mine.id]
    assert client.get(f"/monitoring/escalation/{theirs.id}/").status_code == 404
    # The department list offers only the officer's own departments (without a chain yet).
    form = client.get("/monitoring/escalation/new/").context["form"]
    assert set(form.fields["department"].queryset) == {department}
    resp = client.post(
        "/monitoring/escalation/new/", {**_chain(other), **_levels({"after_minutes": 5, "roles": ["analyst"]})}
    )
    assert resp.status_code == 200 and "department" in resp.context["form"].errors
    assert client.post(f"/monitoring/escalation/{theirs.id}/delete/").status_code == 404

    analyst = make_user(role=Role.ANALYST, department=other)  # sees every chain, changes none
    client.force_login(analyst)
    page = client.get("/monitoring/escalation/")
    assert {p.id for p in page.context["policies"]} == {mine.id, theirs.id}
    assert not page.context["can_add"] and f"/monitoring/escalation/{mine.id}/" not in page.content.decode()
    assert client.get(f"/monitoring/escalation/{mine.id}/").status_code == 403
    client.force_login(make_user(role=Role.EXTERNAL_DEVELOPER))
    assert client.get("/monitoring/escalation/").status_code == 403
    client.logout()
    assert client.get("/monitoring/escalation/").status_code == 302  # to the login page


def test_it_deletes_a_chain_after_confirmation(client, user, department):
    policy = escalation_policy_save(department_id=department.id, levels=[LevelSpec(5, roles=["city_leader"])])
    client.force_login(user)
    assert "confirm-delete" in client.get(f"/monitoring/escalation/{policy.id}/delete/").content.decode()
    assert client.post(f"/monitoring/escalation/{policy.id}/delete/").status_code == 302
    assert not EscalationPolicy.objects.exists() and not EscalationLevel.objects.exists()


def test_a_new_chain_starts_climbing_for_alerts_raised_without_one(client, user, department):
    alert, _ = svc.alert_raise(rule=make_rule(department_id=department.id), subject_key="ds:1", at=timezone.now())
    assert alert.next_escalation_at is None
    client.force_login(user)
    client.post(
        "/monitoring/escalation/new/",
        {**_chain(department), **_levels({"after_minutes": 10, "roles": ["city_leader"]})},
    )
    alert.refresh_from_db()
    assert timezone.now() + timedelta(minutes=9) < alert.next_escalation_at <= timezone.now() + timedelta(minutes=10)


def test_an_escalation_level_notifies_only_on_its_channels(department):
    duty = make_user(department=department, email="duty@example.org")
    escalation_policy_save(department_id=department.id, levels=[LevelSpec(10, user_ids=[duty.id], channels=["email"])])
    alert, _ = svc.alert_raise(rule=make_rule(department_id=department.id), subject_key="ds:1", at=timezone.now())
    Notification.objects.all().delete()  # the raise's own notifications
    assert notify.escalate_due(now=alert.next_escalation_at) == 1
    assert list(Notification.objects.values_list("user_id", "channel", "reason")) == [
        (duty.id, "email", "escalation:1")
    ]


# --- webhooks ---------------------------------------------------------------------------------------


@pytest.fixture
def hook_server():
    """A receiver on 127.0.0.1 answering `code` (200 unless told otherwise)."""

    class State:
        code = 200
        requests: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            State.requests.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(State.code)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    State.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield State
    server.shutdown()
    server.server_close()


def _hook(**kw):
    """A monitoring webhook as stored: the city's own event subscription (no application)."""
    kw.setdefault("events", ["alert.raised", "alert.cleared"])
    return EventSubscription.objects.create(application=None, **kw)


def _delivery(sub, **kw):
    return EventDelivery.objects.create(subscription=sub, event_id=uuid.uuid4(), **kw)


def _new_webhook(client, department, url, **extra):
    data = {
        "name": "ops",
        "url": url,
        "department": department.id if department else "",
        "min_severity": "info",
        "max_attempts": 3,
        "disable_after": 2,
        **extra,
    }
    return client.post("/monitoring/webhooks/new/", data)


def test_it_creates_a_webhook_and_shows_its_secret_only_once(client, user, department):
    client.force_login(user)
    resp = _new_webhook(client, department, "https://hooks.example.org/cityos", events=["alert.raised"])
    endpoint = EventSubscription.objects.get()
    assert resp["Location"] == f"/monitoring/webhooks/{endpoint.id}/"
    assert (endpoint.department_id, endpoint.events, endpoint.is_active) == (department.id, ["alert.raised"], True)
    assert len(endpoint.secret) >= 40
    first = client.get(resp["Location"]).content.decode()
    assert 'id="webhook-secret"' in first and endpoint.secret in first
    again = client.get(resp["Location"]).content.decode()
    assert endpoint.secret not in again and 'id="webhook-secret"' not in again
    # A new secret: shown once too, the old one replaced.
    client.post(f"/monitoring/webhooks/{endpoint.id}/actions/", {"action": "rotate"})
    old, endpoint = endpoint.secret, EventSubscription.objects.get()
    assert endpoint.secret != old and endpoint.secret in client.get(resp["Location"]).content.decode()


def test_it_refuses_bad_webhook_settings_naming_the_field(client, user, department):
    client.force_login(user)
    resp = _new_webhook(client, department, "ftp://example.org/x", max_attempts=0, events=["alert.sneezed"])
    errors = resp.context["form"].errors
    assert resp.status_code == 200 and {"url", "max_attempts", "events"} <= set(errors)
    assert not EventSubscription.objects.exists()


def test_it_scopes_webhooks_to_departments_and_keeps_city_wide_ones_for_administrators(client, department):
    other = make_department()
    mine = _hook(name="mine", url="https://a.example/x", secret="s" * 20, department=department)
    theirs = _hook(name="theirs", url="https://b.example/x", secret="s" * 20, department=other)
    city = _hook(name="city", url="https://c.example/x", secret="s" * 20)
    officer = make_user(department=department)
    client.force_login(officer)
    assert [e.name for e in client.get("/monitoring/webhooks/").context["endpoints"]] == ["mine"]
    for endpoint in (theirs, city):
        assert client.get(f"/monitoring/webhooks/{endpoint.id}/").status_code == 404
        assert client.post(f"/monitoring/webhooks/{endpoint.id}/actions/", {"action": "test"}).status_code == 404
    resp = _new_webhook(client, None, "https://d.example/x")  # city-wide: not for an officer
    assert "department" in resp.context["form"].errors
    resp = _new_webhook(client, other, "https://d.example/x")
    assert "department" in resp.context["form"].errors
    assert client.get(f"/monitoring/webhooks/{mine.id}/").status_code == 200

    leader = make_user(role=Role.CITY_LEADER)
    client.force_login(leader)
    assert [e.name for e in client.get("/monitoring/webhooks/").context["endpoints"]] == ["mine", "theirs"]
    admin = make_user(role=Role.ADMINISTRATOR)
    client.force_login(admin)
    assert [e.name for e in client.get("/monitoring/webhooks/").context["endpoints"]] == ["city", "mine", "theirs"]
    assert _new_webhook(client, None, "https://d.example/x").status_code == 302
    assert EventSubscription.objects.get(url="https://d.example/x").department_id is None
    for role in (Role.ANALYST, Role.GRID_WORKER, Role.EXTERNAL_DEVELOPER):
        client.force_login(make_user(role=role, department=department))
        assert client.get("/monitoring/webhooks/").status_code == 403
        assert client.get(f"/monitoring/webhooks/{mine.id}/").status_code == 403


def test_it_sends_a_test_delivery_and_logs_its_status_code(
    client, user, department, hook_server, django_capture_on_commit_callbacks
):
    endpoint = _hook(name="ops", url=hook_server.url, secret="s" * 20, department=department)
    client.force_login(user)
    with django_capture_on_commit_callbacks() as queued:
        client.post(f"/monitoring/webhooks/{endpoint.id}/actions/", {"action": "test"})
    assert len(queued) == 1  # the Celery task is queued after commit
    delivery = EventDelivery.objects.get()
    assert delivery.event == "subscription.test" and delivery.status == "pending"
    event_deliver.apply(args=[delivery.id])
    headers, body = hook_server.requests[-1]
    assert headers["X-CityOS-Event"] == "subscription.test" and b'"subscription.test"' in body
    page = client.get(f"/monitoring/webhooks/{endpoint.id}/").content.decode()
    row = page.split(f'data-delivery-id="{delivery.id}"')[1].split("</tr>")[0]
    assert str(EventDelivery.Status.SUCCEEDED.label) in row
    assert '<td class="code">200</td>' in row


def test_a_failed_test_is_logged_once_and_never_disables_the_endpoint(department, hook_server):
    hook_server.code = 500
    endpoint = _hook(
        name="ops", url=hook_server.url, secret="s" * 20, department=department, disable_after=1, is_active=False
    )
    from datahub.monitoring.services.webhooks import webhook_send_test

    delivery = webhook_send_test(endpoint=endpoint)
    event_deliver.apply(args=[delivery.id])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("dead", 1, 500)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and len(hook_server.requests) == 1  # sent although disabled


def test_it_shows_an_auto_disabled_endpoint_with_its_reason_and_re_enables_it(
    client, user, department, hook_server, django_capture_on_commit_callbacks
):
    hook_server.code = 503
    endpoint = _hook(
        name="ops", url=hook_server.url, secret="s" * 20, department=department, max_attempts=1, disable_after=1
    )
    with django_capture_on_commit_callbacks(execute=True):  # the raise fans out after commit
        alert, _ = svc.alert_raise(rule=make_rule(department_id=department.id), subject_key="ds:1", at=timezone.now())
    delivery_id = EventDelivery.objects.get(subscription=endpoint).id
    event_deliver.apply(args=[delivery_id])
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "HTTP 503" in endpoint.disabled_reason

    client.force_login(user)
    page = client.get(f"/monitoring/webhooks/{endpoint.id}/").content.decode()
    assert 'id="reenable-webhook"' in page and "HTTP 503" in page
    row = page.split(f'data-delivery-id="{delivery_id}"')[1].split("</tr>")[0]
    assert '<td class="code">503</td>' in row and 'value="redeliver"' in row
    assert f'href="/monitoring/alerts/{alert.id}/"' in row
    listing = client.get("/monitoring/webhooks/").content.decode()
    assert "HTTP 503" in listing

    client.post(f"/monitoring/webhooks/{endpoint.id}/actions/", {"action": "reenable"})
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason == "" and endpoint.consecutive_failures == 0
    client.post(f"/monitoring/webhooks/{endpoint.id}/actions/", {"action": "disable"})
    endpoint.refresh_from_db()
    assert not endpoint.is_active and user.username in endpoint.disabled_reason


def test_it_redelivers_a_dead_letter_from_the_log(client, user, department, hook_server):
    endpoint = _hook(name="ops", url=hook_server.url, secret="s" * 20, department=department)
    dead = _delivery(endpoint, event="alert.raised", status="dead", attempts=6)
    client.force_login(user)
    client.post(f"/monitoring/webhooks/{endpoint.id}/actions/", {"action": "redeliver", "delivery": dead.id})
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    event_deliver.apply(args=[dead.id])
    dead.refresh_from_db()
    assert dead.status == "succeeded" and dead.last_status_code == 200


def test_the_log_shows_when_a_retrying_delivery_is_tried_next(client, user, department, hook_server):
    hook_server.code = 502
    endpoint = _hook(name="ops", url=hook_server.url, secret="s" * 20, department=department, max_attempts=5)
    delivery = _delivery(endpoint, event="alert.raised", payload={"x": 1})
    before = timezone.now()
    assert subscriptions.delivery_attempt(delivery_id=delivery.id) == "retry"
    assert subscriptions.delivery_attempt(delivery_id=delivery.id) == "retry"
    delivery.refresh_from_db()
    # Test settings back off from 1 s: 1 s after the first failure, 2 s after the second.
    assert before + timedelta(seconds=2) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=2)
    assert 1 < subscriptions.delivery_retry_delay_s(delivery_id=delivery.id) <= 2
    client.force_login(user)
    page = client.get(f"/monitoring/webhooks/{endpoint.id}/", {"status": "retrying"})
    assert list(page.context["deliveries"]) == [delivery]
    expected = timezone.localtime(delivery.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S")
    assert expected in page.content.decode()
    assert list(client.get(f"/monitoring/webhooks/{endpoint.id}/", {"status": "dead"}).context["deliveries"]) == []


def test_a_webhook_receives_only_the_events_it_asked_for(department):
    _hook(name="clears", url="https://x.example/", secret="s" * 20, department=department, events=["alert.cleared"])
    data = {"alert_id": 1, "severity": "major"}
    assert subscriptions.event_publish(code="alert.raised", data=data, department_id=department.id) == []
    assert len(subscriptions.event_publish(code="alert.cleared", data=data, department_id=department.id)) == 1


def test_it_deletes_a_webhook_with_its_log(client, user, department):
    endpoint = _hook(name="ops", url="https://x.example/", secret="s" * 20, department=department)
    _delivery(endpoint, event="alert.raised")
    client.force_login(user)
    assert client.post(f"/monitoring/webhooks/{endpoint.id}/delete/").status_code == 302
    assert not EventSubscription.objects.exists() and not EventDelivery.objects.exists()


def test_the_console_and_the_navigation_link_the_new_pages(client, user):
    client.force_login(user)
    page = client.get("/monitoring/")
    html = page.content.decode()
    assert 'id="link-escalation" href' not in html  # (attribute order below)
    assert 'href="/monitoring/escalation/" id="link-escalation"' in html
    assert 'href="/monitoring/webhooks/" id="link-webhooks"' in html
    assert {"alert-escalation", "alert-webhooks"} <= {i["key"] for i in page.context["nav_items"]}
    client.force_login(make_user(role=Role.ANALYST))
    keys = {i["key"] for i in client.get("/monitoring/").context["nav_items"]}
    assert "alert-escalation" in keys and "alert-webhooks" not in keys  # analysts do not manage webhooks
