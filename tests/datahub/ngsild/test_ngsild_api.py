"""The NGSI-LD API: hand-written request/response pairs after ETSI GS CIM 009, and the real
`ngsildclient` library against a live server."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse

import pytest
import requests
from rest_framework.authtoken.models import Token

from cityos.roles import Role
from datahub.iot.services.ingest import observations_store
from datahub.ngsild.models import NgsiSubscription
from tests.datahub.iot.factories import make_area, make_device
from tests.factories import make_department, make_user
from tests.helpers import free_port

BASE = "/ngsi-ld/v1"
LD = "application/ld+json"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def _store(rows):
    """(datastream_id, datetime, value) → stored through the ingest service."""
    observations_store(rows=[(ds, t.timestamp(), v) for ds, t, v in rows])


@pytest.fixture
def officer(db):
    dept = make_department()
    user = make_user(role=Role.DEPARTMENT_OFFICER, department=dept)
    return user


@pytest.fixture
def api(client, officer):
    token = Token.objects.create(user=officer)

    class Api:
        user = officer

        def call(self, method, path, body=None, ctype="application/json", **headers):
            kwargs = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
            kwargs.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
            if body is not None:
                return getattr(client, method)(path, data=json.dumps(body), content_type=ctype, **kwargs)
            return getattr(client, method)(path, **kwargs)

    return Api()


def _entity(eid="urn:ngsi-ld:AirQualityObserved:RZ:Obs42", **extra):
    return {
        "id": eid,
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": 22, "unitCode": "GP", "observedAt": "2026-12-01T08:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.05, 30.05]}},
        **extra,
    }


def test_it_creates_retrieves_updates_and_deletes_an_entity(api):
    r = api.call("post", f"{BASE}/entities", _entity())
    assert r.status_code == 201 and r["Location"] == f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42"
    got = api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42")
    assert got.status_code == 200 and got["Content-Type"] == "application/json" and "json-ld#context" in got["Link"]
    body = got.json()
    assert body["type"] == "AirQualityObserved" and body["NO2"]["value"] == 22 and body["NO2"]["unitCode"] == "GP"
    assert body["location"]["value"]["coordinates"] == [120.05, 30.05]
    kv = api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42?options=keyValues").json()
    assert kv["NO2"] == 22
    assert api.call("post", f"{BASE}/entities", _entity()).status_code == 409
    r = api.call(
        "patch",
        f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42/attrs",
        {"NO2": {"type": "Property", "value": 30}, "O3": {"type": "Property", "value": 1}},
    )
    assert r.status_code == 207 and r.json()["notUpdated"][0]["attributeName"] == "O3"
    r = api.call(
        "post",
        f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42/attrs",
        {"O3": {"type": "Property", "value": 41}},
    )
    assert r.status_code == 204
    body = api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42").json()
    assert (body["NO2"]["value"], body["O3"]["value"]) == (30, 41)
    assert (
        api.call(
            "patch", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42/attrs/O3", {"value": 45}
        ).status_code
        == 204
    )
    assert api.call("delete", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42/attrs/O3").status_code == 204
    assert "O3" not in api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42").json()
    assert api.call("delete", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42").status_code == 204
    r = api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:RZ:Obs42")
    assert r.status_code == 404 and r.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


@pytest.mark.parametrize(
    "body, ctype, kind, status",
    [
        ({"type": "T"}, "application/json", "BadRequestData", 400),  # no id
        ({"id": "not a uri", "type": "T"}, "application/json", "BadRequestData", 400),
        ({"id": "urn:ngsi-ld:T:1", "type": "T", "x": 5}, "application/json", "BadRequestData", 400),  # not normalized
        (
            {"id": "urn:ngsi-ld:T:1", "type": "T", "x": {"type": "Feature", "value": 1}},
            "application/json",
            "BadRequestData",
            400,
        ),
        (
            {"id": "urn:ngsi-ld:T:1", "type": "T", "r": {"type": "Relationship"}},
            "application/json",
            "BadRequestData",
            400,
        ),
        (
            {
                "id": "urn:ngsi-ld:T:1",
                "type": "T",
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [500, 1]}},
            },
            "application/json",
            "BadRequestData",
            400,
        ),
        ({"id": "urn:ngsi-ld:T:1", "type": "T"}, LD, "BadRequestData", 400),  # ld+json without @context
        ({"id": "urn:ngsi-ld:T:1", "type": "T", "@context": CORE}, "application/json", "BadRequestData", 400),
        ({"id": "urn:ngsi-ld:T:1", "type": "T"}, "text/plain", "InvalidRequest", 415),
        ({"id": "urn:ngsi-ld:Device:x", "type": "Device"}, "application/json", "OperationNotSupported", 422),
    ],
)
def test_malformed_payloads_get_ngsi_ld_problem_details(api, body, ctype, kind, status):
    r = api.call("post", f"{BASE}/entities", body, ctype=ctype)
    assert r.status_code == status
    problem = r.json()
    assert problem["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{kind}" and problem["detail"]


def test_bad_json_and_bad_queries_are_400_not_500(api, client):
    token = Token.objects.get(user=api.user).key
    r = client.post(
        f"{BASE}/entities", data=b"{broken", content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert r.status_code == 400 and r.json()["title"] == "InvalidRequest"
    for query in (
        "",
        "?type=T&q=NO2>",
        "?type=T&q=(NO2==1",
        "?type=T&q=NO2~=(",
        "?type=T&limit=-1",
        "?type=T&limit=5000",
        "?type=T&georel=near;maxDistance==x&geometry=Point&coordinates=[1,2]",
        "?type=T&georel=near;maxDistance==10&geometry=Point&coordinates=[1,",
        "?type=T&georel=within&geometry=Point",
        "?idPattern=[",
    ):
        r = api.call("get", f"{BASE}/entities{query}")
        assert r.status_code == 400, query
        assert r.json()["type"].endswith("BadRequestData"), query


def test_unauthenticated_and_bad_tokens_are_401(client, db):
    assert client.get(f"{BASE}/entities?type=T").status_code == 401
    r = client.get(f"{BASE}/entities?type=T", HTTP_AUTHORIZATION="Token nope")
    assert r.status_code == 401 and r.json()["title"] == "Unauthorized"


def test_query_by_type_q_attrs_geo_and_count(api):
    for i, (no2, lon) in enumerate([(10, 120.01), (25, 120.02), (40, 121.5)]):
        api.call(
            "post",
            f"{BASE}/entities",
            _entity(
                f"urn:ngsi-ld:AirQualityObserved:{i}",
                NO2={"type": "Property", "value": no2},
                location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, 30.0]}},
            ),
        )
    api.call(
        "post",
        f"{BASE}/entities",
        {"id": "urn:ngsi-ld:Bench:1", "type": "Bench", "name": {"type": "Property", "value": "长椅"}},
    )

    def ids(query):
        r = api.call("get", f"{BASE}/entities?{query}")
        assert r.status_code == 200, r.content
        return sorted(e["id"].rsplit(":", 1)[1] for e in r.json())

    assert ids("type=AirQualityObserved") == ["0", "1", "2"]
    assert ids("type=AirQualityObserved&q=NO2>20") == ["1", "2"]
    assert ids("type=AirQualityObserved&q=NO2>20;NO2<30") == ["1"]
    assert ids("type=AirQualityObserved&q=NO2==10|NO2==40") == ["0", "2"]
    assert ids("type=AirQualityObserved&q=NO2==20..30") == ["1"]
    assert ids("type=AirQualityObserved&q=NO2==10,40") == ["0", "2"]
    assert ids("type=Bench&q=name==%22长椅%22") == ["1"]
    assert ids("type=AirQualityObserved&georel=near;maxDistance==5000&geometry=Point&coordinates=[120.0,30.0]") == [
        "0",
        "1",
    ]
    assert ids(
        "type=AirQualityObserved&georel=within&geometry=Polygon&coordinates=[[[121,29],[122,29],[122,31],[121,31],[121,29]]]"
    ) == ["2"]
    assert ids("type=https://uri.etsi.org/ngsi-ld/default-context/Bench") == ["1"]
    assert ids("idPattern=^urn:ngsi-ld:AirQualityObserved:[01]$") == ["0", "1"]
    r = api.call("get", f"{BASE}/entities?type=AirQualityObserved&limit=1&offset=1&count=true&attrs=NO2")
    assert r["NGSILD-Results-Count"] == "3" and len(r.json()) == 1 and set(r.json()[0]) == {"id", "type", "NO2"}
    ld = api.call("get", f"{BASE}/entities?type=Bench", accept=LD)
    assert ld["Content-Type"] == LD and ld.json()[0]["@context"]


def test_batch_upsert_creates_replaces_merges_and_reports_errors(api):
    items = [_entity(f"urn:ngsi-ld:AirQualityObserved:b{i}") for i in range(3)]
    r = api.call("post", f"{BASE}/entityOperations/upsert", items)
    assert r.status_code == 201 and sorted(r.json()) == [f"urn:ngsi-ld:AirQualityObserved:b{i}" for i in range(3)]
    replace = [
        {
            "id": "urn:ngsi-ld:AirQualityObserved:b0",
            "type": "AirQualityObserved",
            "O3": {"type": "Property", "value": 1},
        }
    ]
    assert api.call("post", f"{BASE}/entityOperations/upsert", replace).status_code == 204
    assert "NO2" not in api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:b0").json()
    merge = [
        {
            "id": "urn:ngsi-ld:AirQualityObserved:b1",
            "type": "AirQualityObserved",
            "O3": {"type": "Property", "value": 2},
        }
    ]
    assert api.call("post", f"{BASE}/entityOperations/upsert?options=update", merge).status_code == 204
    b1 = api.call("get", f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:b1").json()
    assert b1["NO2"]["value"] == 22 and b1["O3"]["value"] == 2
    mixed = [_entity("urn:ngsi-ld:AirQualityObserved:b9"), {"id": "bad id", "type": "X"}]
    r = api.call("post", f"{BASE}/entityOperations/upsert", mixed)
    assert r.status_code == 207 and r.json()["success"] == ["urn:ngsi-ld:AirQualityObserved:b9"]
    assert r.json()["errors"][0]["error"]["type"].endswith("BadRequestData")
    r = api.call(
        "post",
        f"{BASE}/entityOperations/delete",
        ["urn:ngsi-ld:AirQualityObserved:b0", "urn:ngsi-ld:AirQualityObserved:nope"],
    )
    assert r.status_code == 207 and r.json()["errors"][0]["error"]["type"].endswith("ResourceNotFound")


def test_devices_and_areas_are_exposed_with_latest_values_and_history(api, officer):
    make_area(code="330106", name="西湖区", lon0=120.0, lat0=30.0, size=0.1)
    device, streams, _secret = make_device(
        key="aq-west-1",
        lon=120.05,
        lat=30.05,
        owner_department_id=officer.department_id,
        metrics=(("pm25", "ug/m3", 0, 1000), ("no2", "ug/m3", 0, 1000)),
    )
    t0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    _store([(streams["pm25"].id, t0 + timedelta(hours=h), 30 + h) for h in range(6)])
    got = api.call("get", f"{BASE}/entities/urn:ngsi-ld:Device:aq-west-1").json()
    assert got["type"] == "Device" and got["controlledProperty"]["value"] == ["no2", "pm25"]
    assert got["pm25"]["value"] == 35 and got["pm25"]["observedAt"] == "2026-12-01T05:00:00Z"
    assert got["location"]["value"]["coordinates"] == [120.05, 30.05]
    assert got["refArea"]["object"] == "urn:ngsi-ld:AdministrativeArea:330106"
    area_doc = api.call("get", f"{BASE}/entities/urn:ngsi-ld:AdministrativeArea:330106").json()
    assert area_doc["name"]["value"] == "西湖区" and area_doc["location"]["value"]["type"] == "MultiPolygon"
    hist = api.call(
        "get",
        f"{BASE}/temporal/entities/urn:ngsi-ld:Device:aq-west-1?attrs=pm25&timerel=between"
        "&timeAt=2026-12-01T01:00:00Z&endTimeAt=2026-12-01T04:00:00Z",
    ).json()
    assert [i["value"] for i in hist["pm25"]] == [31, 32, 33] and "no2" not in hist
    last = api.call(
        "get",
        f"{BASE}/temporal/entities/urn:ngsi-ld:Device:aq-west-1?attrs=pm25&timerel=before&timeAt=2026-12-02T00:00:00Z&lastN=2&options=temporalValues",
    ).json()
    assert last["pm25"]["values"] == [[34, "2026-12-01T04:00:00Z"], [35, "2026-12-01T05:00:00Z"]]
    r = api.call(
        "patch", f"{BASE}/entities/urn:ngsi-ld:Device:aq-west-1/attrs", {"pm25": {"type": "Property", "value": 1}}
    )
    assert r.status_code == 422  # devices change through the IoT API only
    bad = api.call(
        "get", f"{BASE}/temporal/entities/urn:ngsi-ld:Device:aq-west-1?timerel=between&timeAt=2026-13-45T00:00:00Z"
    )
    assert bad.status_code == 400


def test_devices_of_other_departments_and_for_external_developers_stay_hidden(api, client):
    other = make_department()
    make_device(key="aq-other", owner_department_id=other.id)
    assert api.call("get", f"{BASE}/entities/urn:ngsi-ld:Device:aq-other").status_code == 404
    dev = make_user(role=Role.EXTERNAL_DEVELOPER)
    token = Token.objects.create(user=dev)
    make_device(key="aq-mine", owner_department_id=api.user.department_id)
    r = client.get(f"{BASE}/entities?type=Device", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 200 and r.json() == []
    r = client.post(
        f"{BASE}/entities",
        data=json.dumps(_entity()),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert r.status_code == 403


class _Sink(BaseHTTPRequestHandler):
    received: list = []
    fail_next = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Sink.fail_next:
            _Sink.fail_next -= 1
            self.send_response(503)
        else:
            _Sink.received.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sink():
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Sink)
    _Sink.received, _Sink.fail_next = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/notify"
    server.shutdown()


def test_subscriptions_notify_on_matching_changes(api, sink, django_capture_on_commit_callbacks):
    from cityos.celery import app

    app.conf.task_always_eager = True
    try:
        sub = {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved"}],
            "watchedAttributes": ["NO2"],
            "q": "NO2>25",
            "notification": {
                "attributes": ["NO2"],
                "format": "keyValues",
                "endpoint": {"uri": sink, "accept": "application/json"},
            },
        }
        r = api.call("post", f"{BASE}/subscriptions", sub)
        assert r.status_code == 201
        sid = r["Location"].rsplit("/", 1)[1]
        with django_capture_on_commit_callbacks(execute=True):
            api.call("post", f"{BASE}/entities", _entity("urn:ngsi-ld:AirQualityObserved:s1"))  # NO2 22: no match
        assert _Sink.received == []
        with django_capture_on_commit_callbacks(execute=True):
            api.call(
                "patch",
                f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:s1/attrs",
                {"NO2": {"type": "Property", "value": 31}},
            )
        assert len(_Sink.received) == 1
        note = _Sink.received[0]
        assert note["type"] == "Notification" and note["subscriptionId"] == sid
        assert note["data"] == [{"id": "urn:ngsi-ld:AirQualityObserved:s1", "type": "AirQualityObserved", "NO2": 31}]
        listed = api.call("get", f"{BASE}/subscriptions/{sid}").json()
        assert listed["notification"]["timesSent"] == 1 and listed["notification"]["status"] == "ok"
        assert api.call("patch", f"{BASE}/subscriptions/{sid}", {"isActive": False}).status_code == 204
        with django_capture_on_commit_callbacks(execute=True):
            api.call(
                "patch",
                f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:s1/attrs",
                {"NO2": {"type": "Property", "value": 50}},
            )
        assert len(_Sink.received) == 1
        assert api.call("delete", f"{BASE}/subscriptions/{sid}").status_code == 204
        assert not NgsiSubscription.objects.exists()
        bad = dict(sub, notification={"endpoint": {"uri": "ftp://x"}})
        assert api.call("post", f"{BASE}/subscriptions", bad).status_code == 400
    finally:
        app.conf.task_always_eager = False


def test_an_unreachable_subscriber_never_blocks_the_writer(api, django_capture_on_commit_callbacks):
    """Delivery is a Celery task queued after commit: the write answers at once whatever the endpoint does."""
    dead = f"http://127.0.0.1:{free_port()}/gone"
    api.call(
        "post",
        f"{BASE}/subscriptions",
        {"entities": [{"type": "AirQualityObserved"}], "notification": {"endpoint": {"uri": dead}}},
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = api.call("post", f"{BASE}/entities", _entity("urn:ngsi-ld:AirQualityObserved:d1"))
    assert r.status_code == 201 and len(callbacks) >= 1  # the notification is queued, not sent inline
    from datahub.ngsild.tasks import DeliveryFailed, ngsild_deliver

    sub = NgsiSubscription.objects.get()
    with pytest.raises(DeliveryFailed):
        ngsild_deliver.run(sub.id, {"id": "n", "type": "Notification", "data": []})
    sub.refresh_from_db()
    assert sub.last_failure is not None and "ConnectError" in sub.last_error


def test_the_ngsildclient_library_works_against_it(live_server, officer):
    from ngsildclient import Client, Entity
    from requests.auth import AuthBase

    token = Token.objects.create(user=officer).key

    class TokenAuth(AuthBase):
        def __call__(self, r):
            r.headers["Authorization"] = f"Token {token}"
            return r

    url = urlparse(live_server.url)
    client = Client(hostname=url.hostname, port=url.port, custom_auth=TokenAuth(), verbose=False)
    e = Entity("AirQualityObserved", "RZ:Obs42")
    e.prop("NO2", 22, unitcode="GP", observedat="2026-12-01T08:00:00Z")
    e.loc(30.05, 120.05)
    assert client.create(e)
    got = client.get("urn:ngsi-ld:AirQualityObserved:RZ:Obs42")
    assert got["NO2"]["value"] == 22 and got.type == "AirQualityObserved"
    assert client.exists("urn:ngsi-ld:AirQualityObserved:RZ:Obs42")
    others = [Entity("AirQualityObserved", f"RZ:Obs{i}").prop("NO2", 10 * i) for i in range(5)]
    result = client.upsert(others)
    assert result.success and len(result.success) == 5
    found = client.query(type="AirQualityObserved", q="NO2>25")
    assert sorted(x.id for x in found) == [
        "urn:ngsi-ld:AirQualityObserved:RZ:Obs3",
        "urn:ngsi-ld:AirQualityObserved:RZ:Obs4",
    ]
    assert client.count(type="AirQualityObserved") == 6
    assert client.entities.delete("urn:ngsi-ld:AirQualityObserved:RZ:Obs42")
    assert not client.exists("urn:ngsi-ld:AirQualityObserved:RZ:Obs42")
    assert requests.get(f"{live_server.url}{BASE}/contexts/core.jsonld", timeout=5).json()["@context"]["Property"]


def test_ingested_readings_notify_device_subscribers(api, officer, sink, django_capture_on_commit_callbacks):
    from cityos.celery import app

    device, streams, _secret = make_device(key="aq-sub-1", owner_department_id=officer.department_id)
    r = api.call(
        "post",
        f"{BASE}/subscriptions",
        {
            "entities": [{"type": "Device", "id": "urn:ngsi-ld:Device:aq-sub-1"}],
            "watchedAttributes": ["pm25"],
            "notification": {"attributes": ["pm25"], "endpoint": {"uri": sink}},
        },
    )
    assert r.status_code == 201
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _store([(streams["pm25"].id, datetime(2026, 12, 2, 8, tzinfo=UTC), 88.0)])
    finally:
        app.conf.task_always_eager = False
    assert len(_Sink.received) == 1
    data = _Sink.received[0]["data"]
    assert data[0]["id"] == "urn:ngsi-ld:Device:aq-sub-1"
    assert data[0]["pm25"]["value"] == 88.0 and data[0]["pm25"]["observedAt"] == "2026-12-02T08:00:00Z"
