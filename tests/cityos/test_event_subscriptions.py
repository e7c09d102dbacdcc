"""Event subscriptions of external applications: filters, signed deliveries, retries with backoff,
dead letters and replay, automatic disabling, the API (scope events:subscribe) — against a real
subscriber served locally that fails, times out and recovers."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cityos import bus
from cityos.api import keys
from cityos.models import ApiApplication, ApiPlan, DeveloperOrganisation, EventDelivery, EventSubscription
from cityos.roles import Role
from cityos.webhooks import delivery as signing
from cityos.webhooks import services
from cityos.webhooks.tasks import event_deliver
from datahub.facade import event_record
from tests.datahub.iot.factories import make_area
from tests.factories import make_user


@pytest.fixture
def subscriber():
    """A local HTTP subscriber: answers each request by the next mode in `script`
    ("fail" → 503, "timeout" → silent for 3 s, "ok" → 200); once the script is used up, "ok"."""

    class State:
        script: list = []
        requests: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            State.requests.append((dict(self.headers), body))
            mode = State.script.pop(0) if State.script else "ok"
            if mode == "timeout":
                time.sleep(3)
            try:
                self.send_response(503 if mode == "fail" else 200)
                self.end_headers()
            except OSError:
                pass  # the sender gave up (timeout)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    State.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    State.script, State.requests = [], []
    yield State
    server.shutdown()
    server.server_close()


def make_app(*, level=ApiApplication.Level.OWNER, approved=True, owner=None):
    owner = owner or make_user(role=Role.EXTERNAL_DEVELOPER)
    org = DeveloperOrganisation.objects.create(
        name=f"org-{owner.username}", contact_email="dev@example.org", is_approved=approved
    )
    plan = ApiPlan.objects.create(name=f"plan-{owner.username}", per_second=1000, per_minute=100000, per_day=10**6)
    return ApiApplication.objects.create(organisation=org, owner=owner, name="app", plan=plan, access_level=level)


def _sub(app, url, **fields):
    fields.setdefault("events", ["case.created"])
    sub, secret = services.subscription_create(application=app, name="hook", url=url, **fields)
    return sub, secret


def _publish_case(*, area_id=None, category="noise"):
    return services.event_publish(
        code="case.created",
        data={"case_id": 7, "tracking_number": "C-7", "status": "received", "category": category, "phone": "138..."},
        area_id=area_id,
        category=category,
    )


def test_it_delivers_a_signed_envelope_after_retrying_a_failing_and_a_silent_subscriber(db, subscriber, settings):
    settings.EVENT_WEBHOOK_TIMEOUT_S = 1
    subscriber.script = ["fail", "timeout", "ok"]
    sub, secret = _sub(make_app(), subscriber.url, max_attempts=5)
    (delivery_id,) = _publish_case()
    event_deliver.apply(args=[delivery_id])  # eager: the retries run in-process, without waiting

    d = EventDelivery.objects.get(id=delivery_id)
    assert (d.status, d.attempts) == ("succeeded", 3)
    assert [a["status_code"] for a in d.attempt_log] == [503, None, 200]
    assert "Timeout" in d.attempt_log[1]["error"]
    headers, body = subscriber.requests[-1]
    assert signing.verify(secret, headers["X-CityOS-Timestamp"], body, headers["X-CityOS-Signature"])
    expected = hmac.new(secret.encode(), headers["X-CityOS-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-CityOS-Signature"] == "sha256=" + expected.hexdigest()
    envelope = json.loads(body)
    assert envelope["event"] == "case.created" and envelope["data"]["case_id"] == 7
    assert "phone" not in envelope["data"]  # only the catalogue's fields leave the city
    assert headers["X-CityOS-Delivery"] == envelope["id"] == str(d.event_id)


def test_backoff_is_exponential(settings):
    assert [signing.backoff_s(n, base=30) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


def test_it_dead_letters_disables_a_dead_endpoint_and_replays_once_it_recovers(db, subscriber):
    subscriber.script = ["fail"] * 4
    sub, _secret = _sub(make_app(), subscriber.url, max_attempts=2, disable_after=2)
    ids = _publish_case() + _publish_case()
    for delivery_id in ids:
        event_deliver.apply(args=[delivery_id])
    assert list(EventDelivery.objects.order_by("id").values_list("status", "attempts")) == [("dead", 2), ("dead", 2)]
    sub.refresh_from_db()
    assert sub.is_active is False and "2" in sub.disabled_reason
    assert _publish_case() == []  # a disabled subscription gets nothing new
    assert len(subscriber.requests) == 4

    # The endpoint is back: replaying a dead letter switches the subscription on and delivers.
    dead = EventDelivery.objects.filter(status="dead").first()
    services.delivery_replay(delivery=dead)
    event_deliver.apply(args=[dead.id])
    dead.refresh_from_db()
    sub.refresh_from_db()
    assert dead.status == "succeeded" and sub.is_active and sub.consecutive_failures == 0


def test_filters_by_area_with_sub_areas_category_and_severity(db, subscriber):
    city = make_area(code="3301", name="市")
    district = make_area(code="330106", name="西湖区", parent=city)
    other = make_area(code="330102", name="上城区", parent=city)
    app = make_app()
    by_area, _ = _sub(app, subscriber.url, area_ids=[district.id])
    by_cat, _ = _sub(app, subscriber.url, categories=["road"])
    severe, _ = _sub(app, subscriber.url, events=["alert.raised"], min_severity="major")
    _publish_case(area_id=district.id, category="noise")
    _publish_case(area_id=other.id, category="road")
    got = dict(EventDelivery.objects.values_list("subscription_id", "payload__area_id"))
    assert got == {by_area.id: district.id, by_cat.id: other.id}
    for sev in ("minor", "critical"):
        services.event_publish(code="alert.raised", data={"alert_id": 1, "severity": sev}, severity=sev)
    assert list(EventDelivery.objects.filter(subscription=severe).values_list("payload__severity", flat=True)) == [
        "critical"
    ]


def test_restricted_events_need_an_application_granted_access(db, subscriber):
    public = make_app(level=ApiApplication.Level.PUBLIC)
    with pytest.raises(services.SubscriptionError, match="restricted"):
        _sub(public, subscriber.url, events=["case.created"])
    sub, _ = _sub(public, subscriber.url, events=["dataset.updated", "notice.published"])
    assert sub.events == ["dataset.updated", "notice.published"]
    with pytest.raises(services.SubscriptionError, match="url"):
        _sub(public, "ftp://x", events=["dataset.updated"])


def test_domain_events_reach_subscribers_through_the_bus(db, subscriber, django_capture_on_commit_callbacks):
    area = make_area(code="330106", name="西湖区")
    app = make_app()
    _sub(app, subscriber.url, events=["case.created", "case.updated", "case.closed", "alert.cleared"])
    with django_capture_on_commit_callbacks(execute=True):
        event_record(type="case.received", area_id=area.id, payload={"case_id": 3, "category": "noise"})
        event_record(type="case.close", area_id=area.id, payload={"case_id": 3, "status": "closed"})
        event_record(type="alert.cleared", payload={"alert_id": 9, "severity": "major"})
        event_record(type="alert.raised", payload={"alert_id": 9, "severity": "major"})  # not subscribed
    events = sorted(EventDelivery.objects.values_list("event", flat=True))
    assert events == ["alert.cleared", "case.closed", "case.created", "case.updated"]
    assert EventDelivery.objects.get(event="case.closed").payload["data"]["action"] == "close"
    assert bus.subscribers("datahub.event_recorded")  # wired in CityosConfig.ready()


def test_a_domain_event_handled_twice_is_delivered_once(db, subscriber, django_capture_on_commit_callbacks):
    from cityos.webhooks import sources

    sub, _ = _sub(make_app(), subscriber.url, events=["alert.raised"])
    with django_capture_on_commit_callbacks(execute=True):
        event_id = event_record(type="alert.raised", payload={"alert_id": 9, "severity": "major"})
    (first,) = EventDelivery.objects.all()
    # The bus task retried or redelivered (acks_late): the same event log row, no second delivery.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        sources.on_event_recorded({"event_id": event_id, "type": "alert.raised"})
    assert list(EventDelivery.objects.all()) == [first] and queued == []
    # A subscription made in between still hears of it.
    later, _ = _sub(make_app(), subscriber.url, events=["alert.raised"])
    sources.on_event_recorded({"event_id": event_id, "type": "alert.raised"})
    assert sorted(EventDelivery.objects.values_list("subscription_id", flat=True)) == [sub.id, later.id]
    assert len(set(EventDelivery.objects.values_list("event_id", flat=True))) == 1


def test_an_unreachable_subscriber_never_blocks_the_publisher(db):
    sub, _ = _sub(make_app(), "http://127.0.0.1:9/never")
    t = time.perf_counter()
    ids = _publish_case()
    assert time.perf_counter() - t < 0.5 and len(ids) == 1
    assert services.delivery_attempt(delivery_id=ids[0]) == "retry"


# --- the API ----------------------------------------------------------------------------------------------


def _key(app, scopes=("events:subscribe",)):
    keys._cache.clear()
    return keys.api_key_create(application=app, name="k", scopes=list(scopes))[1]


def test_api_manages_the_keys_own_subscriptions_with_the_events_scope(client, db, subscriber):
    app = make_app()
    text = _key(app)
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {text}"}
    r = client.post(
        "/api/v1/events/subscriptions/",
        {"name": "ops", "url": subscriber.url, "events": ["case.closed"], "min_severity": ""},
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["secret"] and created["application"] == app.id
    listed = client.get("/api/v1/events/subscriptions/", **auth).json()
    assert [s["id"] for s in listed["results"]] == [created["id"]] and "secret" not in listed["results"][0]
    r = client.post(
        "/api/v1/events/subscriptions/",
        {"name": "x", "url": subscriber.url, "events": ["nope"]},
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 400 and "events" in json.dumps(r.json())
    r = client.post(f"/api/v1/events/subscriptions/{created['id']}/test/", **auth)
    assert r.status_code == 202
    event_deliver.apply(args=[r.json()["id"]])
    assert json.loads(subscriber.requests[-1][1])["event"] == "subscription.test"
    log = client.get("/api/v1/events/deliveries/?status=succeeded", **auth).json()
    assert log["count"] == 1

    # Another application's key sees none of it; a key without the scope gets 403 naming it.
    other = _key(make_app())
    assert client.get("/api/v1/events/subscriptions/", HTTP_AUTHORIZATION=f"Api-Key {other}").json()["count"] == 0
    r = client.get(f"/api/v1/events/subscriptions/{created['id']}/", HTTP_AUTHORIZATION=f"Api-Key {other}")
    assert r.status_code == 404
    no_scope = _key(app, scopes=("datasets:read",))
    r = client.get("/api/v1/events/subscriptions/", HTTP_AUTHORIZATION=f"Api-Key {no_scope}")
    assert r.status_code == 403 and r.json()["error"]["scope"] == "events:subscribe"
    assert client.delete(f"/api/v1/events/subscriptions/{created['id']}/", **auth).status_code == 204
    assert not EventSubscription.objects.exists()


def test_dead_letters_are_listed_and_replayed_through_the_api(client, db, subscriber):
    app = make_app()
    text = _key(app)
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {text}"}
    subscriber.script = ["fail"]
    _sub(app, subscriber.url, max_attempts=1)
    (delivery_id,) = _publish_case()
    event_deliver.apply(args=[delivery_id])
    dead = client.get("/api/v1/events/deliveries/?status=dead", **auth).json()["results"]
    assert [d["id"] for d in dead] == [delivery_id]
    assert client.get("/api/v1/events/deliveries/?status=zombie", **auth).status_code == 400
    r = client.post(f"/api/v1/events/deliveries/{delivery_id}/replay/", **auth)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    event_deliver.apply(args=[delivery_id])
    assert EventDelivery.objects.get(id=delivery_id).status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_until_the_subscriber_recovers(celery_worker_process, subscriber):
    subscriber.script = ["fail", "timeout", "fail"]
    sub, secret = _sub(make_app(), subscriber.url, max_attempts=6)
    (delivery_id,) = _publish_case()  # outside a transaction: queued at once
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        d = EventDelivery.objects.get(id=delivery_id)
        if d.status == "succeeded":
            break
        time.sleep(0.3)
    assert (d.status, d.attempts) == ("succeeded", 4), d.attempt_log
    headers, body = subscriber.requests[-1]
    assert signing.verify(secret, headers["X-CityOS-Timestamp"], body, headers["X-CityOS-Signature"])


# --- the city's own subscriptions (no application: the monitoring webhooks) --------------------------------


def test_staff_subscriptions_need_no_application_take_restricted_events_and_keep_to_a_department(db, subscriber):
    from datahub.models import Department

    with pytest.raises(services.SubscriptionError, match="staff"):
        services.subscription_create(
            application=None,
            created_by=make_user(role=Role.EXTERNAL_DEVELOPER),
            name="x",
            url=subscriber.url,
            events=["alert.raised"],
        )
    dept = Department.objects.create(code="env", name="生态环境局", kind="bureau")
    staff = make_user(role=Role.ADMINISTRATOR)
    sub, _ = services.subscription_create(
        application=None,
        created_by=staff,
        name="ops",
        url=subscriber.url,
        events=["alert.raised"],
        department_id=dept.id,
    )
    every, _ = services.subscription_create(
        application=None, created_by=staff, name="all", url=subscriber.url, events=["alert.raised"]
    )
    with pytest.raises(services.SubscriptionError, match="department_id"):
        services.subscription_update(subscription=every, department_id=10**9)
    data = {"alert_id": 1, "severity": "major", "department_id": dept.id}
    assert len(services.event_publish(code="alert.raised", data=data, severity="major", department_id=dept.id)) == 2
    assert len(services.event_publish(code="alert.raised", data=data, severity="major")) == 1  # not sub's
    assert set(EventDelivery.objects.values_list("subscription_id", flat=True)) == {sub.id, every.id}
    assert str(sub).endswith("/ ops")
