"""Open311 GeoReport v2: every JSON response validated against the published schemas, XML against the
spec's example shapes."""

import json

import defusedxml.ElementTree as ET
import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from rest_framework.authtoken.models import Token

from governance.models import Case, ServiceAttribute
from governance.services.cases import case_create, case_transition

pytestmark = pytest.mark.django_db
BASE = "/open311/v2"
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture
def schemas(data_dir):
    base = data_dir / "open311_georeport_v2_schema"
    docs = {
        n: json.loads((base / n).read_text())
        for n in ("request.json", "requests.json", "service.json", "services.json", "service-definition.json")
    }
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT4)) for name, doc in docs.items()
    )

    def validate(name, instance):
        Draft4Validator(docs[name], registry=registry, format_checker=FormatChecker()).validate(instance)

    return validate


@pytest.fixture
def api_key(city):
    return Token.objects.create(user=city.dispatcher).key


@pytest.fixture
def with_attribute(city):
    ServiceAttribute.objects.create(
        category=city.noise,
        code="SOURCE",
        datatype="singlevaluelist",
        required=True,
        description="噪音来源",
        values=[{"key": "bar", "name": "酒吧"}, {"key": "site", "name": "工地"}],
    )
    return city


def xml(resp):
    return ET.fromstring(resp.content)


def test_it_lists_services_per_schema(client, city, schemas):
    resp = client.get(f"{BASE}/services.json")
    assert resp.status_code == 200
    schemas("services.json", resp.json())
    codes = {s["service_code"] for s in resp.json()}
    assert {city.noise.service_code, city.litter.service_code} <= codes


def test_it_lists_services_as_xml(client, city):
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    first = root.find("service")
    assert [c.tag for c in first] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]


def test_it_describes_a_service_definition(client, with_attribute, schemas):
    resp = client.get(f"{BASE}/services/{with_attribute.noise.service_code}.json")
    schemas("service-definition.json", resp.json())
    attr = resp.json()["attributes"][0]
    assert attr["code"] == "SOURCE" and attr["values"][0] == {"key": "bar", "name": "酒吧"}
    root = xml(client.get(f"{BASE}/services/{with_attribute.noise.service_code}.xml"))
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key").text == "bar"


def test_it_marks_services_with_attributes_as_metadata(client, with_attribute):
    services = {s["service_code"]: s for s in client.get(f"{BASE}/services.json").json()}
    assert services[with_attribute.noise.service_code]["metadata"] is True
    assert services[with_attribute.litter.service_code]["metadata"] is False


def test_it_creates_a_request_with_attributes(client, with_attribute, api_key, schemas):
    city = with_attribute
    resp = client.post(
        f"{BASE}/requests.json",
        {
            "api_key": api_key,
            "service_code": city.noise.service_code,
            "lat": city.P1[1],
            "long": city.P1[0],
            "description": "酒吧夜里太吵",
            "attribute[SOURCE]": "bar",
            "email": "citizen@example.org",
        },
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    case = Case.objects.get(tracking_number=body[0]["service_request_id"])
    assert case.channel == "open311" and case.attributes == {"SOURCE": "bar"} and case.grid_id == city.grid1.id
    assert case.reporter_email == "citizen@example.org"
    detail = client.get(f"{BASE}/requests/{case.tracking_number}.json").json()
    schemas("requests.json", detail)
    assert "citizen@example.org" not in json.dumps(detail)


def test_it_refuses_a_request_without_a_valid_api_key(client, city):
    resp = client.post(f"{BASE}/requests.json", {"api_key": "nope", "service_code": city.noise.service_code})
    assert resp.status_code == 403
    assert resp.json()[0]["code"] == 403 and "api_key" in resp.json()[0]["description"]


def test_it_refuses_a_request_missing_a_required_attribute(client, with_attribute, api_key):
    resp = client.post(
        f"{BASE}/requests.xml",
        {"api_key": api_key, "service_code": with_attribute.noise.service_code, "address_string": "长安街道"},
    )
    assert resp.status_code == 400
    root = xml(resp)
    assert root.tag == "errors" and "attribute[SOURCE]" in root.find("error/description").text


def test_it_refuses_a_request_without_location(client, city, api_key):
    resp = client.post(f"{BASE}/requests.json", {"api_key": api_key, "service_code": city.litter.service_code})
    assert resp.status_code == 400 and "location" in resp.json()[0]["description"]


def test_it_locates_a_request_from_its_address_string(client, city, api_key):
    resp = client.post(
        f"{BASE}/requests.json",
        {"api_key": api_key, "service_code": city.litter.service_code, "address_string": "江南区长安街道88号"},
    )
    case = Case.objects.get(tracking_number=resp.json()[0]["service_request_id"])
    assert case.street_id == city.street.id and case.district_id == city.district.id


def _cases(city):
    a = case_create(channel="api", title="噪音扰民", lon=city.P1[0], lat=city.P1[1])
    b = case_create(channel="api", title="垃圾乱扔", lon=city.P2[0], lat=city.P2[1])
    case_transition(case_id=b.id, action="accept", actor=city.officer)
    case_transition(case_id=b.id, action="resolve", actor=city.officer, note="已清理")
    return a, b


def test_it_lists_requests_per_schema_with_filters(client, city, schemas):
    a, b = _cases(city)
    everything = client.get(f"{BASE}/requests.json").json()
    schemas("requests.json", everything)
    assert {r["service_request_id"] for r in everything} == {a.tracking_number, b.tracking_number}
    closed = client.get(f"{BASE}/requests.json", {"status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [b.tracking_number]
    assert closed[0]["status_notes"] == "已清理"
    by_code = client.get(f"{BASE}/requests.json", {"service_code": city.noise.service_code}).json()
    assert [r["service_request_id"] for r in by_code] == [a.tracking_number]
    by_id = client.get(f"{BASE}/requests.json", {"service_request_id": f"{a.tracking_number},{b.tracking_number}"})
    assert len(by_id.json()) == 2


def test_it_filters_requests_by_date(client, city):
    _cases(city)
    future = client.get(f"{BASE}/requests.json", {"start_date": "2099-01-01T00:00:00Z"}).json()
    assert future == []
    bad = client.get(f"{BASE}/requests.json", {"start_date": "yesterday"})
    assert bad.status_code == 400 and "start_date" in bad.json()[0]["description"]


def test_it_serves_requests_as_xml_in_the_spec_shape(client, city):
    a, _b = _cases(city)
    root = xml(client.get(f"{BASE}/requests/{a.tracking_number}.xml"))
    assert root.tag == "service_requests"
    assert [c.tag for c in root.find("request")] == REQUEST_FIELDS
    assert root.find("request/status").text == "open"


def test_it_looks_up_a_token(client, city, schemas):
    a, _b = _cases(city)
    resp = client.get(f"{BASE}/tokens/{a.token}.json")
    assert resp.json() == [{"service_request_id": a.tracking_number, "token": str(a.token)}]
    root = xml(client.get(f"{BASE}/tokens/{a.token}.xml"))
    assert root.find("request/service_request_id").text == a.tracking_number
    assert client.get(f"{BASE}/tokens/not-a-token.json").status_code == 404


def test_it_publishes_a_discovery_document(client):
    body = client.get(f"{BASE}/discovery.json").json()
    assert body["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert body["endpoints"][0]["url"].endswith("/open311/v2/")
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_it_answers_unknown_requests_with_an_error_list(client, city):
    resp = client.get(f"{BASE}/requests/BJ00000000-000000.json")
    assert resp.status_code == 404 and resp.json()[0]["code"] == 404


def test_it_lists_requests_in_constant_queries(client, city, django_assert_max_num_queries):
    for _ in range(5):
        _cases(city)
    with django_assert_max_num_queries(3):
        assert len(client.get(f"{BASE}/requests.json").json()) == 10


def test_it_answers_a_created_request_as_xml(client, city, api_key):
    resp = client.post(
        f"{BASE}/requests.xml",
        {"api_key": api_key, "service_code": city.litter.service_code, "lat": city.P2[1], "long": city.P2[0]},
    )
    assert resp.status_code == 201 and resp["Content-Type"].startswith("text/xml")
    root = xml(resp)
    assert root.tag == "service_requests"
    assert [c.tag for c in root.find("request")] == ["service_request_id", "token", "service_notice", "account_id"]
    assert Case.objects.filter(tracking_number=root.find("request/service_request_id").text).exists()


# --- issue 11, item 15: the spec's own rules on dates, jurisdictions and ids -----------------------


@pytest.mark.parametrize(
    "value",
    ["2026-13-45T00:00:00Z", "2026-02-30T00:00:00+08:00", "0519-01-01T00:00:00Z", "2026-01-01T00:00:00+23:00"],
)
def test_it_answers_an_impossible_date_with_400(client, city, value):
    resp = client.get(f"{BASE}/requests.json", {"end_date": value})
    assert resp.status_code == 400
    assert resp.json()[0]["code"] == 400 and "end_date" in resp.json()[0]["description"]


def test_it_answers_an_unknown_jurisdiction_with_404(client, city, settings):
    settings.OPEN311_JURISDICTION_ID = "binjiang.example"
    a, _b = _cases(city)
    for path in ("services.json", "requests.json", f"requests/{a.tracking_number}.json", f"tokens/{a.token}.json"):
        resp = client.get(f"{BASE}/{path}", {"jurisdiction_id": "elsewhere.example"})
        assert resp.status_code == 404, path
        assert "jurisdiction_id" in resp.json()[0]["description"]
        assert client.get(f"{BASE}/{path}", {"jurisdiction_id": "binjiang.example"}).status_code == 200, path
    # Omitting it is fine: this endpoint serves one jurisdiction.
    assert client.get(f"{BASE}/services.json").status_code == 200
    resp = client.post(f"{BASE}/requests.json?jurisdiction_id=elsewhere.example", {"service_code": "x"})
    assert resp.status_code == 404


def test_it_lets_service_request_id_override_every_other_filter(client, city):
    a, b = _cases(city)  # a is open (noise), b is closed (litter)
    resp = client.get(
        f"{BASE}/requests.json",
        {
            "service_request_id": f"{a.tracking_number},{b.tracking_number}",
            "status": "closed",
            "service_code": city.litter.service_code,
            "start_date": "2099-01-01T00:00:00Z",
        },
    )
    assert resp.status_code == 200
    assert {r["service_request_id"] for r in resp.json()} == {a.tracking_number, b.tracking_number}
