"""Rules evaluated on the ingest path: readings posted to the ingest API raise and clear alerts,
and a rule preview replays readings from the observation store."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from datahub.models import Alert
from datahub.monitoring.services import observations
from datahub.monitoring.services.observations import describe_reset, read_series
from datahub.monitoring.services.preview import rule_preview
from datahub.monitoring.services.rules import redis_client
from tests.datahub.iot.factories import make_device
from tests.datahub.monitoring.factories import make_rule

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/datahub/observations/ingest/"


@pytest.fixture(autouse=True)
def _fresh_descriptions():
    describe_reset()
    yield
    describe_reset()


def _post(api_client, device, secret, readings):
    resp = api_client.post(
        URL, json.dumps(readings), content_type="application/json", HTTP_AUTHORIZATION=f"Device {device.key}:{secret}"
    )
    assert resp.status_code == 200, resp.content
    return resp.json()


def _hourly(start, values):
    return [
        {"metric": "pm25", "time": (start + timedelta(hours=i)).isoformat(), "value": v} for i, v in enumerate(values)
    ]


def test_it_raises_and_clears_an_alert_from_readings_posted_to_the_ingest_api(api_client):
    device, streams, secret = make_device()
    rule = make_rule(params={"op": ">", "threshold": 150, "duration_s": 2 * 3600, "clear_threshold": 100})
    start = datetime(2026, 3, 10, 0, tzinfo=UTC)
    # Above 150 at 02:00, 03:00 and 04:00: held for two hours at 04:00, so the alert opens then.
    _post(api_client, device, secret, _hourly(start, [80, 120, 160, 170, 180]))
    alert = Alert.objects.get(rule=rule)
    assert alert.status == Alert.Status.ACTIVE
    assert alert.datastream_id == streams["pm25"].id
    assert alert.subject_key  # one open alert per rule and subject
    # 130 is below the threshold but above the clear threshold (hysteresis): still active.
    _post(api_client, device, secret, _hourly(start + timedelta(hours=5), [130]))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACTIVE
    _post(api_client, device, secret, _hourly(start + timedelta(hours=6), [90]))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CLEARED
    assert Alert.objects.filter(rule=rule).count() == 1


def test_it_ignores_readings_outside_the_rules_scope(api_client):
    device, _streams, secret = make_device(device_type="air_quality")
    make_rule(device_type="water_level", params={"op": ">", "threshold": 150, "duration_s": 0})
    _post(api_client, device, secret, _hourly(datetime(2026, 3, 10, tzinfo=UTC), [500, 600]))
    assert not Alert.objects.exists()


def test_it_previews_a_rule_over_the_observation_store(api_client):
    device, streams, secret = make_device()
    start = datetime(2026, 3, 10, 0, tzinfo=UTC)
    _post(api_client, device, secret, _hourly(start, [80, 200, 210, 90, 95]))
    rows = list(
        read_series({"metric": "pm25", "datastream_id": None, "area_ids": None}, start, start + timedelta(days=1))
    )
    assert [r["value"] for r in rows] == [80, 200, 210, 90, 95]
    assert {r["datastream_id"] for r in rows} == {streams["pm25"].id}
    preview = rule_preview(
        rule={
            "name": "p",
            "kind": "threshold",
            "metric": "pm25",
            "severity": "major",
            "params": {"op": ">", "threshold": 150, "duration_s": 0},
        },
        until=start + timedelta(days=1),
    )
    assert preview["points"] == 5
    [episode] = preview["episodes"]
    assert episode["raised_at"] is not None


def test_a_background_evaluation_thread_raises_the_alert_after_the_response(api_client, settings):
    """As the web tier runs it: the response goes out once the batch is stored; this process's
    evaluation thread raises the alert right after, in commit order."""
    settings.MONITORING_EVALUATE_IN_BACKGROUND = True
    device, streams, secret = make_device()
    rule = make_rule(params={"op": ">", "threshold": 150, "duration_s": 2 * 3600, "clear_threshold": 100})
    start = datetime(2026, 3, 10, 0, tzinfo=UTC)
    evaluated = lambda: int(redis_client().get(observations.evaluated_key()) or 0)  # noqa: E731
    before = evaluated()
    for i, v in enumerate([80, 120, 160, 170, 180]):  # five requests, evaluated one by one in order
        assert _post(api_client, device, secret, _hourly(start + timedelta(hours=i), [v]))["stored"] == 1
    assert observations.evaluation_drain(timeout=10)
    assert evaluated() - before == 5  # the counter the benchmark waits on
    thread = observations._thread
    assert thread is not None and thread.is_alive() and thread is not threading.current_thread()
    alert = Alert.objects.get(rule=rule)
    assert (alert.status, alert.datastream_id) == (Alert.Status.ACTIVE, streams["pm25"].id)
    assert alert.raised_at == start + timedelta(hours=4)
    _post(api_client, device, secret, _hourly(start + timedelta(hours=5), [90]))
    assert observations.evaluation_drain(timeout=10)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CLEARED
