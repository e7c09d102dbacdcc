"""Lineage of observations: every ingest channel stamps its Source and Run on the readings it stores."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from datahub.iot.selectors import observation_lineage, series
from datahub.iot.services import lineage as iot_lineage
from datahub.iot.services.csv_import import ColumnMapping, timeseries_import_csv
from datahub.models import IngestBatch, Run, Source
from tests.datahub.conftest import BridgeProcess
from tests.datahub.iot.factories import make_device
from tests.datahub.iot.test_mqtt import publisher
from tests.helpers import wait_until

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
INGEST = "/api/v1/datahub/observations/ingest/"


def run_of(ds_id: int, when: datetime) -> int | None:
    with connection.cursor() as cur:
        cur.execute("SELECT run_id FROM datahub_observation WHERE datastream_id = %s AND time = %s", [ds_id, when])
        row = cur.fetchone()
    return row[0] if row else None


def http_post(client, device, secret, readings: list[dict]):
    return client.post(
        INGEST,
        json.dumps(readings),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Device {device.key}:{secret}",
    )


def import_csv(tmp_path, device_key: str, rows: list[tuple[str, float]], source_code: str = "lineage-test-csv") -> Run:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.csv"
    path.write_text("time,pm25\n" + "".join(f"{t},{v}\n" for t, v in rows))
    mapping = ColumnMapping(layout="long", device_key=device_key, value_columns={"pm25": "pm25"}, time_column="time")
    return timeseries_import_csv(path=path, mapping=mapping, source_code=source_code)


@pytest.mark.django_db
def test_it_stamps_http_readings_with_the_days_iot_http_run_and_adds_its_counts(api_client):
    device, s, secret = make_device()
    resp = http_post(
        api_client,
        device,
        secret,
        [
            {"metric": "pm25", "time": T0.isoformat(), "value": 10},
            {"metric": "pm25", "time": (T0 + timedelta(minutes=1)).isoformat(), "value": -1},
        ],
    )
    assert resp.status_code == 200, resp.content
    resp = http_post(
        api_client, device, secret, [{"metric": "pm25", "time": (T0 + timedelta(minutes=2)).isoformat(), "value": 12}]
    )
    assert resp.status_code == 200, resp.content

    run = Run.objects.select_related("source").get(id=run_of(s["pm25"].id, T0))
    assert (run.source.code, run.source.kind, run.source.connector) == ("iot-http", "iot", "http")
    assert run.window_date == timezone.localdate() and run.status == Run.Status.RUNNING
    assert run_of(s["pm25"].id, T0 + timedelta(minutes=2)) == run.id  # both requests share the day's run
    assert (run.rows_read, run.rows_stored, run.rows_rejected) == (3, 2, 1)
    batches = IngestBatch.objects.filter(channel="http")
    assert {(b.source_id, b.run_id) for b in batches} == {(run.source_id, run.id)}


@pytest.mark.django_db
def test_it_opens_a_new_http_run_each_local_day_and_finishes_the_previous_one():
    source_id, first = iot_lineage.http_day_run(day=date(2026, 3, 9))
    assert iot_lineage.http_day_run(day=date(2026, 3, 9)) == (source_id, first)
    _, second = iot_lineage.http_day_run(day=date(2026, 3, 10))
    assert second != first
    assert Run.objects.get(id=first).status == Run.Status.SUCCEEDED
    assert Run.objects.get(id=second).status == Run.Status.RUNNING
    assert Source.objects.filter(code="iot-http").count() == 1


@pytest.mark.django_db
def test_it_stamps_file_import_readings_with_the_imports_run(tmp_path):
    device, s, _ = make_device()
    run = import_csv(tmp_path, device.key, [(T0.isoformat(), 5.0), ((T0 + timedelta(hours=1)).isoformat(), 6.0)])
    assert run.rows_stored == 2
    assert run_of(s["pm25"].id, T0) == run.id
    assert run_of(s["pm25"].id, T0 + timedelta(hours=1)) == run.id
    assert observation_lineage(datastream_id=s["pm25"].id, time=T0) == {"source": "lineage-test-csv", "run_id": run.id}
    assert set(IngestBatch.objects.filter(channel="import").values_list("run_id", "source_id")) == {
        (run.id, run.source_id)
    }


@pytest.mark.django_db
def test_it_keeps_the_first_run_when_a_reading_is_resent_through_another_channel(tmp_path, api_client):
    device, s, secret = make_device()
    first = import_csv(tmp_path, device.key, [(T0.isoformat(), 5.0)])
    # The same reading again (different value: first write wins) plus a new one, over HTTP.
    resp = http_post(
        api_client,
        device,
        secret,
        [
            {"metric": "pm25", "time": T0.isoformat(), "value": 99},
            {"metric": "pm25", "time": (T0 + timedelta(minutes=5)).isoformat(), "value": 7},
        ],
    )
    assert resp.json()["duplicates"] == 1
    assert run_of(s["pm25"].id, T0) == first.id
    http_run = run_of(s["pm25"].id, T0 + timedelta(minutes=5))
    assert http_run not in (None, first.id)
    # And a rerun of the same import file is all duplicates: the readings keep the first run.
    again = import_csv(tmp_path, device.key, [(T0.isoformat(), 5.0)])
    assert again.id != first.id and again.rows_stored == 0
    assert run_of(s["pm25"].id, T0) == first.id


@pytest.mark.django_db
def test_it_exposes_the_run_of_raw_series_points(tmp_path):
    device, s, _ = make_device()
    run = import_csv(tmp_path, device.key, [(T0.isoformat(), 5.0)])
    page = series(
        datastream_id=s["pm25"].id, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1), resolution="raw"
    )
    assert page.points == [{"time": T0, "value": 5.0, "run_id": run.id}]


@pytest.mark.django_db
def test_it_answers_the_lineage_endpoint_with_source_and_run(tmp_path, auth_client):
    device, s, _ = make_device()
    run = import_csv(tmp_path, device.key, [(T0.isoformat(), 5.0)])
    url = f"/api/v1/datahub/datastreams/{s['pm25'].id}/lineage/"
    resp = auth_client.get(url, {"time": "2026-03-10T16:00:00+08:00"})  # the same instant as T0
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"source": "lineage-test-csv", "run_id": run.id}


@pytest.mark.django_db
def test_it_returns_a_404_json_error_when_no_reading_is_at_that_time(tmp_path, auth_client):
    device, s, _ = make_device()
    import_csv(tmp_path, device.key, [(T0.isoformat(), 5.0)])
    url = f"/api/v1/datahub/datastreams/{s['pm25'].id}/lineage/"
    resp = auth_client.get(url, {"time": (T0 + timedelta(seconds=1)).isoformat()})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    assert "2026-03-10T08:00:01" in resp.json()["error"]["message"]
    missing = auth_client.get(url)
    assert missing.status_code == 400 and missing.json()["error"]["fields"] == {"time": ["required"]}


@pytest.mark.django_db(transaction=True)
def test_it_stamps_mqtt_readings_with_the_bridge_sessions_run_and_finishes_it_on_shutdown(mqtt_broker, tmp_path):
    device, s, secret = make_device(key=f"iot-l-{uuid.uuid4().hex[:6]}")
    bridge = BridgeProcess(mqtt_broker, f"iot-lineage-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    try:
        pub = publisher(mqtt_broker.port, device.key, secret)
        topic = f"cityos/{device.key}/telemetry"
        pub.publish(topic, json.dumps({"ts": T0.timestamp(), "pm25": 10}), qos=1).wait_for_publish(5)
        pub.publish(topic, json.dumps({"ts": T0.timestamp(), "pm25": 11}), qos=1).wait_for_publish(5)  # a resend
        pub.publish(topic, json.dumps({"ts": T0.timestamp() + 60, "pm25": 12}), qos=1).wait_for_publish(5)
        wait_until(lambda: run_of(s["pm25"].id, T0 + timedelta(minutes=1)) is not None, 30, "2 readings stored")
        pub.loop_stop()
        run = Run.objects.select_related("source").get(id=run_of(s["pm25"].id, T0))
        assert run_of(s["pm25"].id, T0 + timedelta(minutes=1)) == run.id
        assert (run.source.code, run.source.kind, run.source.connector) == ("iot-mqtt", "iot", "mqtt")
        assert run.status == Run.Status.RUNNING
    finally:
        bridge.stop()
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.finished_at is not None
    assert (run.rows_read, run.rows_stored) == (3, 2)
