import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from datahub.iot.services import ingest as iot_ingest
from tests.datahub.iot.factories import make_device
from tests.factories import make_user

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
URL = "/api/v1/datahub/observations/ingest/"


def count(ds_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE datastream_id = %s", [ds_id])
        return cur.fetchone()[0]


def device_auth(device, secret) -> dict:
    return {"HTTP_AUTHORIZATION": f"Device {device.key}:{secret}"}


def test_it_ingests_a_json_array_with_a_device_credential_listing_bad_readings(api_client):
    device, s, secret = make_device()
    body = [
        {"metric": "pm25", "time": "2026-03-10T08:00:00Z", "value": 10},
        {"metric": "pm25", "time": "2026-03-10T08:01:00Z", "value": -3},
        {"metric": "pm25", "time": "2026-03-10T08:02:00Z", "value": 12},
    ]
    resp = api_client.post(URL, json.dumps(body), content_type="application/json", **device_auth(device, secret))
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert (data["stored"], data["rejected"]) == (2, 1)
    assert data["errors"] == [
        {"index": 1, "field": "value", "reason": "value -3.0 outside the valid range [0.0, 1000.0]"}
    ]
    assert count(s["pm25"].id) == 2


def test_it_refuses_a_wrong_device_secret(api_client):
    device, _, secret = make_device()
    resp = api_client.post(URL, "[]", content_type="application/json", **device_auth(device, "wrong"))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "authentication_failed"


def test_it_keeps_a_device_to_its_own_datastreams(api_client):
    device, _, secret = make_device()
    _, other, _ = make_device()
    body = [{"datastream": other["pm25"].id, "time": "2026-03-10T08:00:00Z", "value": 1}]
    resp = api_client.post(URL, json.dumps(body), content_type="application/json", **device_auth(device, secret))
    assert resp.status_code == 400
    assert resp.json()["error"]["errors"][0]["field"] == "datastream"
    assert count(other["pm25"].id) == 0


def test_it_ingests_ndjson_with_an_api_token_and_reports_the_broken_line(auth_client, department):
    device, s, _ = make_device(owner_department_id=department.id)
    lines = [
        json.dumps({"device": device.key, "metric": "pm25", "time": "2026-03-10T08:00:00Z", "value": 1}),
        "{not json",
        json.dumps({"device": device.key, "metric": "pm25", "time": "2026-03-10T08:01:00Z", "value": 2}),
    ]
    resp = auth_client.post(URL, "\n".join(lines), content_type="application/x-ndjson")
    data = resp.json()
    assert (data["received"], data["stored"], data["rejected"]) == (3, 2, 1)
    assert data["errors"][0]["index"] == 1 and "line 2" in data["errors"][0]["reason"]


def test_it_ingests_csv_and_counts_a_resent_body_as_duplicates(auth_client, department):
    device, s, _ = make_device(owner_department_id=department.id)
    body = f"datastream,time,value\n{s['pm25'].id},2026-03-10T08:00:00Z,1\n{s['pm25'].id},2026-03-10T08:01:00Z,2\n"
    first = auth_client.post(URL, body, content_type="text/csv").json()
    again = auth_client.post(URL, body, content_type="text/csv").json()
    assert (first["stored"], again["stored"], again["duplicates"]) == (2, 0, 2)


def test_it_rejects_an_unparseable_body_with_a_clear_error(auth_client):
    resp = auth_client.post(URL, "[{", content_type="application/json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_body"
    assert "line 1" in resp.json()["error"]["message"]


def test_it_refuses_anonymous_ingest(api_client):
    assert api_client.post(URL, "[]", content_type="application/json").status_code in (401, 403)


def _fill(ds_id: int, n: int) -> None:
    iot_ingest.observations_store(rows=[(ds_id, (T0 + timedelta(minutes=i)).timestamp(), float(i)) for i in range(n)])


def test_it_pages_raw_series_with_a_cursor(auth_client):
    _, s, _ = make_device()
    ds = s["pm25"].id
    _fill(ds, 250)
    url = f"/api/v1/datahub/datastreams/{ds}/series/?start=2026-03-10T08:00:00Z&end=2026-03-11T08:00:00Z&resolution=raw&limit=100"
    values, pages = [], 0
    while url:
        data = auth_client.get(url).json()
        values += [p["value"] for p in data["points"]]
        url, pages = data["next"], pages + 1
    assert pages == 3 and values == [float(i) for i in range(250)]


def test_it_picks_hourly_rollups_for_a_long_span(auth_client):
    _, s, _ = make_device()
    ds = s["pm25"].id
    _fill(ds, 150)
    data = auth_client.get(
        f"/api/v1/datahub/datastreams/{ds}/series/?start=2026-03-01T00:00:00Z&end=2026-04-01T00:00:00Z"
    ).json()
    assert data["resolution"] == "hour"
    assert [p["count"] for p in data["points"]] == [60, 60, 30]
    assert data["points"][0]["mean"] == sum(range(60)) / 60 and data["points"][2]["max"] == 149.0


def test_it_exports_history_as_csv(auth_client):
    device, s, _ = make_device()
    ds = s["pm25"].id
    _fill(ds, 3)
    resp = auth_client.get(
        f"/api/v1/datahub/datastreams/{ds}/export/?start=2026-03-10T00:00:00Z&end=2026-03-11T00:00:00Z&resolution=raw"
    )
    text = b"".join(resp.streaming_content).decode()
    assert text.splitlines() == [
        "time,value",
        "2026-03-10T08:00:00+00:00,0.0",
        "2026-03-10T08:01:00+00:00,1.0",
        "2026-03-10T08:02:00+00:00,2.0",
    ]
    assert device.key in resp["Content-Disposition"]


def test_it_lists_datastreams_with_latest_values_in_bounded_queries(auth_client, django_assert_max_num_queries):
    for _ in range(4):
        _, s, _ = make_device()
        _fill(s["pm25"].id, 2)
    with django_assert_max_num_queries(3):
        data = auth_client.get("/api/v1/datahub/datastreams/").json()
    assert data["count"] == 4 and all(r["latest"]["value"] == 1.0 for r in data["results"])


def test_it_returns_latest_values_of_many_datastreams(auth_client):
    _, s, _ = make_device()
    _fill(s["pm25"].id, 3)
    data = auth_client.get(f"/api/v1/datahub/datastreams/latest/?ids={s['pm25'].id},999999").json()
    assert list(data["latest"]) == [str(s["pm25"].id)] and data["latest"][str(s["pm25"].id)]["value"] == 2.0


def test_it_summarises_ingest_for_the_monitor(auth_client):
    _, s, _ = make_device()
    iot_ingest.observations_ingest(
        records=[
            {"datastream": s["pm25"].id, "time": "bad", "value": 1},
            {"datastream": s["pm25"].id, "time": 1.7e9, "value": 1},
        ]
    )
    data = auth_client.get("/api/v1/datahub/ingest-batches/summary/").json()
    http = data["channels"][0]
    assert (http["channel"], http["stored"], http["rejected"]) == ("http", 1, 1)
    # the sample of rejected readings names devices of every department: city-wide roles only
    assert data["recent_errors"] == []
    auth_client.force_authenticate(make_user(role="analyst"))
    data = auth_client.get("/api/v1/datahub/ingest-batches/summary/").json()
    assert data["recent_errors"][0]["field"] == "time"


def test_it_serves_minute_points_of_a_slow_stream_from_raw_across_pages(auth_client):
    _, s, _ = make_device(expected_interval_s=60)
    ds = s["pm25"].id
    iot_ingest.observations_store(
        rows=[(ds, (T0 + timedelta(seconds=30 + 60 * i)).timestamp(), float(i)) for i in range(5)]
    )
    url = f"/api/v1/datahub/datastreams/{ds}/series/?start=2026-03-10T08:00:00Z&end=2026-03-10T09:00:00Z&resolution=minute&limit=2"
    means = []
    while url:
        data = auth_client.get(url).json()
        means += [(p["time"][11:16], p["mean"], p["count"]) for p in data["points"]]
        url = data["next"]
    assert means == [("08:00", 0.0, 1), ("08:01", 1.0, 1), ("08:02", 2.0, 1), ("08:03", 3.0, 1), ("08:04", 4.0, 1)]


def test_it_refuses_an_oversized_ingest_body(auth_client, monkeypatch):
    from datahub.iot import api as iot

    monkeypatch.setattr(iot, "MAX_INGEST_BODY_BYTES", 100)
    resp = auth_client.post(
        URL, json.dumps([{"datastream": 1, "time": 1, "value": 1}] * 10), content_type="application/json"
    )
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "body_too_large"


# --- who may write readings with an API token (issue 11, item 4) ---------------------------------


def test_an_officers_token_writes_only_into_their_departments_devices(auth_client, department):
    from tests.factories import make_department

    _, own, _ = make_device(owner_department_id=department.id)
    _, other, _ = make_device(owner_department_id=make_department().id)
    body = [
        {"datastream": own["pm25"].id, "time": "2026-03-10T08:00:00Z", "value": 1},
        {"datastream": other["pm25"].id, "time": "2026-03-10T08:00:00Z", "value": 2},
    ]
    data = auth_client.post(URL, json.dumps(body), content_type="application/json").json()
    assert (data["stored"], data["rejected"]) == (1, 1)
    assert data["errors"][0]["index"] == 1 and data["errors"][0]["reason"].startswith("not permitted")
    assert (count(own["pm25"].id), count(other["pm25"].id)) == (1, 0)


@pytest.mark.parametrize("role", ["external_developer", "analyst", "grid_worker", "city_leader"])
def test_a_token_of_a_role_that_manages_no_device_writes_nothing(api_client, department, role):
    device, s, _ = make_device(owner_department_id=department.id)
    api_client.force_authenticate(make_user(role=role, department=department))
    body = [{"device": device.key, "metric": "pm25", "time": "2026-03-10T08:00:00Z", "value": 1}]
    resp = api_client.post(URL, json.dumps(body), content_type="application/json")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "permission_denied"
    assert count(s["pm25"].id) == 0


def test_an_administrators_token_writes_into_any_device(api_client):
    device, s, _ = make_device()
    api_client.force_authenticate(make_user(role="administrator"))
    body = [{"device": device.key, "metric": "pm25", "time": "2026-03-10T08:00:00Z", "value": 1}]
    assert api_client.post(URL, json.dumps(body), content_type="application/json").json()["stored"] == 1
