"""API keys: scoped, rate-limited (GCRA in Redis), metered, and never more than their grant."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cityos.api import keys
from cityos.models import ApiApplication, ApiPlan, ApiUsage, DeveloperOrganisation
from cityos.roles import Role
from datahub.models import Dataset
from tests.datahub.datasets.factories import make_dataset
from tests.factories import make_department, make_user


@pytest.fixture(autouse=True)
def _fresh_redis_counters():
    r = keys._redis()
    for k in r.scan_iter("cityos:quota:*"):
        r.delete(k)
    with keys._meter_flush_lock:  # counts of earlier tests still pending in this process go too
        keys._meter_pending.clear()
        for k in r.scan_iter("cityos:meter:*"):
            r.delete(k)
    keys._cache.clear()
    yield


@pytest.fixture
def developer(db):
    return make_user(role=Role.EXTERNAL_DEVELOPER)


def make_app(owner, *, approved=True, plan=None, level=ApiApplication.Level.PUBLIC):
    org = DeveloperOrganisation.objects.create(
        name=f"org-{owner.username}", contact_email="dev@example.org", is_approved=approved
    )
    plan = plan or ApiPlan.objects.create(
        name=f"plan-{owner.username}", per_second=1000, per_minute=100000, per_day=1000000
    )
    return ApiApplication.objects.create(organisation=org, owner=owner, name="app", plan=plan, access_level=level)


def _get(client, path, key, **extra):
    return client.get(path, HTTP_AUTHORIZATION=f"Api-Key {key}", **extra)


def test_a_key_with_the_scope_reads_and_without_it_gets_403_naming_the_scope(client, developer):
    make_dataset(title="公开数据")
    _key, text = keys.api_key_create(application=make_app(developer), name="k", scopes=["datasets:read"])
    r = _get(client, "/api/v1/datahub/datasets/", text)
    assert r.status_code == 200 and r.json()["count"] == 1
    r = _get(client, "/api/v1/governance/cases/", text)
    assert r.status_code == 403
    assert r.json()["error"] == {
        "code": "missing_scope",
        "message": "This key lacks the scope cases:read.",
        "scope": "cases:read",
    }
    r = client.post("/api/v1/datahub/datasets/", {}, HTTP_AUTHORIZATION=f"Api-Key {text}")
    assert r.status_code == 403 and r.json()["error"]["scope"] == "datasets:write"


@pytest.mark.parametrize(
    "mutate, code, status",
    [
        (lambda text, key: text[:-3] + "xyz", "api_key_unknown", 401),
        (lambda text, key: "not-a-key", "api_key_malformed", 401),
        (lambda text, key: keys.api_key_revoke(key=key) or text, "api_key_revoked", 401),
        (
            lambda text, key: (
                type(key).objects.filter(id=key.id).update(expires_at=timezone.now() - timedelta(1)) and text
            ),
            "api_key_expired",
            401,
        ),
    ],
)
def test_bad_keys_are_refused_with_a_clear_code(client, developer, mutate, code, status):
    key, text = keys.api_key_create(application=make_app(developer), name="k", scopes=["datasets:read"])
    keys._cache.clear()
    r = _get(client, "/api/v1/datahub/datasets/", mutate(text, key))
    keys._cache.clear()
    r = _get(client, "/api/v1/datahub/datasets/", mutate(text, key)) if code == "api_key_revoked" else r
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert r["WWW-Authenticate"].startswith("Api-Key")


def test_unapproved_organisations_and_foreign_addresses_are_refused(client, developer):
    _k, text = keys.api_key_create(application=make_app(developer, approved=False), name="k", scopes=["datasets:read"])
    assert _get(client, "/api/v1/datahub/datasets/", text).json()["error"]["code"] == "organisation_not_approved"
    other = make_user(role=Role.EXTERNAL_DEVELOPER)
    _k, text = keys.api_key_create(
        application=make_app(other), name="k", scopes=["datasets:read"], ip_allowlist=["127.0.0.0/24"]
    )
    assert _get(client, "/api/v1/datahub/datasets/", text, REMOTE_ADDR="127.0.0.9").status_code == 200
    r = _get(client, "/api/v1/datahub/datasets/", text, REMOTE_ADDR="127.0.1.9")
    assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"


def test_keys_see_public_data_only_unless_the_application_is_granted_its_owners_access(client, db):
    dept = make_department()
    officer = make_user(role=Role.DEPARTMENT_OFFICER, department=dept)
    make_dataset(title="公开", owner_department=dept)
    make_dataset(title="内部", owner_department=dept, level=Dataset.Level.INTERNAL)
    app = make_app(officer)
    _k, text = keys.api_key_create(application=app, name="k", scopes=["datasets:read"])
    assert [d["title"] for d in _get(client, "/api/v1/datahub/datasets/", text).json()["results"]] == ["公开"]
    ApiApplication.objects.filter(id=app.id).update(access_level=ApiApplication.Level.OWNER)
    keys._cache.clear()
    assert sorted(d["title"] for d in _get(client, "/api/v1/datahub/datasets/", text).json()["results"]) == [
        "公开",
        "内部",
    ]
    officer.refresh_from_db()
    assert officer.role == Role.DEPARTMENT_OFFICER  # the limited copy never touched the account


def test_quota_gives_429_with_retry_after_and_ratelimit_headers(client, developer):
    plan = ApiPlan.objects.create(name="tiny", per_second=100, per_minute=3, per_day=1000)
    _k, text = keys.api_key_create(application=make_app(developer, plan=plan), name="k", scopes=["datasets:read"])
    statuses = []
    for _ in range(5):
        r = _get(client, "/api/v1/datahub/datasets/", text)
        statuses.append(r.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert int(r["Retry-After"]) >= 1 and r["RateLimit-Remaining"] == "0" and r["RateLimit-Limit"] == "3"
    assert r.json()["error"]["code"] == "rate_limited"


def test_reads_overlap_the_quota_call_and_still_hold_the_quota_when_redis_lost_its_script(client, developer):
    # Reads send the quota call and run the view while Redis answers; the answer still decides.
    plan = ApiPlan.objects.create(name="tiny-read", per_second=100, per_minute=3, per_day=1000)
    _k, text = keys.api_key_create(application=make_app(developer, plan=plan), name="k", scopes=["datasets:read"])
    assert _get(client, "/api/v1/datahub/datasets/", text).status_code == 200  # loads the script
    keys._redis().script_flush()  # a Redis restart: the next overlapped call meets NOSCRIPT
    r = _get(client, "/api/v1/datahub/datasets/", text)
    assert r.status_code == 200 and r["RateLimit-Remaining"] == "1"
    statuses = [_get(client, "/api/v1/datahub/datasets/", text).status_code for _ in range(2)]
    assert statuses == [200, 429]
    # and the pool's connections came back clean: an ordinary command still gets its own answer
    assert keys._redis().ping() is True


def test_a_write_refused_by_the_quota_changes_nothing(client, db):
    from datahub.models import Entity

    officer = make_user(role=Role.DEPARTMENT_OFFICER, department=make_department())
    plan = ApiPlan.objects.create(name="tiny-write", per_second=100, per_minute=1, per_day=1000)
    app = make_app(officer, plan=plan, level=ApiApplication.Level.OWNER)
    _k, text = keys.api_key_create(application=app, name="k", scopes=["ngsi-ld:write"])
    body = '{"id": "urn:ngsi-ld:Building:q-%d", "type": "Building"}'
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {text}"}
    r1 = client.post("/ngsi-ld/v1/entities", data=body % 1, content_type="application/json", **auth)
    r2 = client.post("/ngsi-ld/v1/entities", data=body % 2, content_type="application/json", **auth)
    assert (r1.status_code, r2.status_code) == (201, 429)
    assert not Entity.objects.filter(identifiers__value="urn:ngsi-ld:Building:q-2").exists()


def test_gcra_allows_exactly_the_rate_under_overload():
    """10x the limit for 60 simulated seconds: the accepted count stays within 5% of the limit."""
    info = keys.KeyInfo(
        id=987654,
        prefix="x",
        secret_hash="",
        scopes=frozenset(),
        ip_allowlist=(),
        expires_at=None,
        revoked=False,
        approved=True,
        owner_id=1,
        access_level="public",
        application_id=1,
        per_second=50,
        per_minute=600,
        per_day=0,
    )
    start = 1_700_000_000_000_000
    accepted = 0
    for i in range(6000):  # 100 requests/s for 60 s against 600/minute
        ok, _retry, _h = keys.quota_take(info, now_us=start + i * 10_000)
        accepted += ok
    assert abs(accepted - 600) <= 30, accepted


def test_every_call_is_metered_and_flushed_to_usage_rows(client, developer):
    key, text = keys.api_key_create(application=make_app(developer), name="k", scopes=["datasets:read"])
    for _ in range(3):
        _get(client, "/api/v1/datahub/datasets/", text)
    _get(client, "/api/v1/governance/cases/", text)  # 403: counted too
    assert ApiUsage.objects.count() == 0  # no database write per request
    assert keys.usage_flush() == 2  # two rows: (datasets, 200) and (cases, 403)
    rows = {(u.endpoint, u.status): u.count for u in ApiUsage.objects.filter(key=key)}
    assert rows == {("GET api/v1/datahub/datasets/", 200): 3, ("GET api/v1/governance/cases/", 403): 1}, rows
    _get(client, "/api/v1/datahub/datasets/", text)
    keys.usage_flush()
    keys.usage_flush()  # twice: nothing counted twice
    assert ApiUsage.objects.get(key=key, status=200).count == 4


def test_counts_reach_redis_from_the_background_without_a_flush(client, developer):
    # The request does not wait for a Redis round trip to be counted: the process's meter thread
    # sends the count within METER_FLUSH_SECONDS.
    import time

    key, text = keys.api_key_create(application=make_app(developer), name="k", scopes=["datasets:read"])
    _get(client, "/api/v1/datahub/datasets/", text)
    _get(client, "/api/v1/datahub/datasets/", text)
    field = f"{key.id}|GET api/v1/datahub/datasets/|200".encode()
    deadline = time.monotonic() + 5
    got = None
    while time.monotonic() < deadline:
        got = keys._redis().hget(keys._meter_key(timezone.localdate()), field)
        if got == b"2":
            break
        time.sleep(0.02)
    assert got == b"2"


def test_counts_survive_redis_being_away_and_are_sent_later(developer, monkeypatch):
    key, _text = keys.api_key_create(application=make_app(developer), name="k", scopes=["datasets:read"])
    info = keys.api_key_check(_text, remote_ip="127.0.0.1")

    class Down:
        def pipeline(self, **kw):
            raise keys.redis.exceptions.ConnectionError("redis is away")

    with monkeypatch.context() as m:
        m.setattr(keys, "_redis", lambda: Down())
        for _ in range(3):
            keys.meter(info, endpoint="GET api/v1/datahub/datasets/", status=200)
        with pytest.raises(keys.redis.exceptions.ConnectionError):
            keys.meter_flush()
    assert keys.usage_flush() == 1  # back: the kept counts are sent, then stored
    assert ApiUsage.objects.get(key=key).count == 3


def test_unknown_scopes_and_bad_networks_are_refused_at_issue(developer):
    app = make_app(developer)
    with pytest.raises(ValueError, match="unknown scope"):
        keys.api_key_create(application=app, name="k", scopes=["everything"])
    with pytest.raises(ValueError, match="ip_allowlist"):
        keys.api_key_create(application=app, name="k", scopes=["datasets:read"], ip_allowlist=["999.1.1.1"])


def test_ngsi_ld_accepts_api_keys_with_its_scope(client, developer):
    _k, text = keys.api_key_create(application=make_app(developer), name="k", scopes=["ngsi-ld:read"])
    assert _get(client, "/ngsi-ld/v1/entities?type=Building", text).status_code == 200
    r = client.post(
        "/ngsi-ld/v1/entities", data="{}", content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {text}"
    )
    assert r.status_code == 403 and r.json()["error"]["scope"] == "ngsi-ld:write"
