"""Issue 11, item 8: the causes of the fuzzer's 500s, one by one, and a schema that tells the truth.
Each answered 500 (or contradicted the schema) before."""

import pytest
from rest_framework.test import APIClient

from cityos.roles import Role
from datahub.models import NotificationPreference
from governance.models import Case
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.datahub.iot.factories import make_device
from tests.factories import make_user
from tests.governance.factories import MiniCity

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@pytest.fixture
def admin():
    client = APIClient()
    client.force_authenticate(make_user(role=Role.ADMINISTRATOR, department=None))
    return client


def _field_error(resp, name: str) -> None:
    assert resp.status_code == 400, resp.content
    assert name in resp.json()["error"]["message"] or name in resp.json()["error"].get("fields", {})


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/datahub/documents/", "published_after"),
        ("/datahub/events/", "since"),
        ("/datahub/alerts/", "raised_after"),
        ("/governance/cases/", "created_after"),
    ],
)
@pytest.mark.parametrize("value", ["0110-06-09T15:06:36-20:56", "0519-01-01T00:00:00Z", "2026-01-01T00:00:00+16:00"])
def test_date_filters_out_of_sane_bounds_are_400(admin, path, param, value):
    _field_error(admin.get(f"{V1}{path}", {param: value}), param)


def test_series_and_lineage_refuse_odd_offsets_and_years(admin):
    _device, streams, _secret = make_device()
    base = f"{V1}/datahub/datastreams/{streams['pm25'].id}"
    _field_error(admin.get(f"{base}/series/", {"start": "2026-01-01T00:00:00+20:00"}), "start")
    _field_error(admin.get(f"{base}/series/", {"end": "0519-01-01T00:00:00Z"}), "end")
    _field_error(admin.get(f"{base}/lineage/", {"time": "2026-01-01T00:00:00-18:30"}), "time")


def test_dataset_diff_refuses_a_negative_offset(admin):
    ds = make_dataset()
    run_import(ds, b"id,v\n1,a\n")
    run_import(ds, b"id,v\n1,b\n")
    url = f"{V1}/datahub/datasets/{ds.slug}/diff/"
    assert admin.get(url).status_code == 200
    _field_error(admin.get(url, {"offset": "-1"}), "offset")
    _field_error(admin.get(url, {"limit": "0"}), "limit")
    _field_error(admin.get(url, {"offset": str(2**70)}), "offset")


def test_device_create_refuses_an_interval_beyond_32_bits(admin):
    body = {"key": "dev-big", "name": "大间隔", "device_type": "air_quality", "expected_interval_s": 2**31 + 5}
    _field_error(admin.post(f"{V1}/datahub/devices/", body, format="json"), "expected_interval_s")


def test_alert_preferences_take_null_rule_kinds_as_every_kind(admin):
    # A form field holding JSON null got past validation and hit the NOT NULL column (IntegrityError).
    url = f"{V1}/datahub/alert-preferences/"
    resp = admin.post(url, {"channel": "in_app", "rule_kinds": "null"}, format="multipart")
    assert resp.status_code == 201, resp.content
    assert resp.json()["rule_kinds"] == [] and NotificationPreference.objects.get().rule_kinds == []
    resp = admin.patch(f"{url}{resp.json()['id']}/", {"rule_kinds": "null"}, format="multipart")
    assert resp.status_code == 200 and resp.json()["rule_kinds"] == []
    _field_error(admin.post(url, {"channel": "email", "rule_kinds": '"pm25"'}, format="multipart"), "rule_kinds")


def test_a_case_created_by_the_external_developer_answers_a_receipt():
    MiniCity()
    client = APIClient()
    client.force_authenticate(make_user(role=Role.EXTERNAL_DEVELOPER, department=None))
    resp = client.post(f"{V1}/governance/cases/", {"title": "路灯不亮"}, format="json")
    assert resp.status_code == 201, resp.content
    case = Case.objects.get(tracking_number=resp.json()["tracking_number"])
    assert resp.json()["citizen_key"] == case.citizen_key
    assert resp.json()["citizen_url"].endswith(f"k={case.citizen_key}")
    assert "reporter_phone" not in resp.json() and "transitions" not in resp.json()


def test_a_merge_of_a_non_numeric_entity_is_404(admin):
    for action in ("merge", "split"):
        resp = admin.post(f"{V1}/datahub/entities/1e-300/{action}/", {"merged_id": 1}, format="json")
        assert resp.status_code == 404, action


def test_values_the_database_refuses_are_4xx_not_500():
    """The last line of defence (cityos/api/exceptions.py) for what edge validation missed."""
    from django.db import DataError, IntegrityError

    from cityos.api.exceptions import json_exception_handler

    resp = json_exception_handler(DataError("integer out of range\nCONTEXT: ..."), {})
    assert resp.status_code == 400 and resp.data["error"]["code"] == "invalid_value"
    assert "integer out of range" in resp.data["error"]["message"] and "CONTEXT" not in resp.data["error"]["message"]
    resp = json_exception_handler(IntegrityError("duplicate key value violates unique constraint"), {})
    assert resp.status_code == 409 and resp.data["error"]["code"] == "conflict"


@pytest.fixture
def schema(admin):
    return admin.get("/api/schema/", {"format": "json"}).json()


def test_every_operation_declares_its_error_responses(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            assert {"400", "404", "429"} <= statuses, (method, path)
            if op.get("security", schema.get("security")) not in (None, [], [{}]) and {} not in op.get("security", []):
                assert {"401", "403"} <= statuses, (method, path)
            if method in ("post", "put", "patch", "delete"):
                assert "409" in statuses, (method, path)
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


def test_the_schema_tells_the_truth_about_lists_times_and_nulls(schema, admin):
    ok = lambda path, method="get": schema["paths"][path][method]["responses"]["200"]["content"][  # noqa: E731
        "application/json"
    ]["schema"]
    assert ok("/api/v1/datahub/areas/locate/")["type"] == "array"
    assert isinstance(admin.get(f"{V1}/datahub/areas/locate/", {"lon": 0, "lat": 0}).json(), list)
    assert ok("/api/v1/datahub/areas/match/")["type"] == "array"
    assert ok("/api/v1/governance/cases/{id}/duplicates/")["type"] == "array"
    push = schema["paths"]["/api/v1/datahub/sources/{code}/push/"]["post"]["responses"]
    assert push["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "415" in schema["paths"]["/api/v1/datahub/alerts/bulk/"]["post"]["responses"]
    quiet = schema["components"]["schemas"]["Preference"]["properties"]["quiet_start"]
    assert "format" not in quiet and quiet["pattern"].startswith("^")
    assert schema["components"]["schemas"]["CaseList"]["properties"]["category_name"]["nullable"] is True
    comments = schema["paths"]["/api/v1/datahub/alerts/{id}/comments/"]
    assert "201" in comments["post"]["responses"] and "Paginated" in str(comments["get"]["responses"]["200"])
