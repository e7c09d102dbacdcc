"""The MQTT bridge against a real (private) Mosquitto and the real bridge process."""

import json
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from django.db import connection

from datahub.models import IngestBatch
from tests.datahub.conftest import BridgeProcess
from tests.datahub.iot_factories import make_device

T0 = datetime(2026, 2, 1, tzinfo=UTC).timestamp()


def publisher(port: int) -> mqtt.Client:
    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"iot-test-pub-{uuid.uuid4().hex[:8]}"
    )
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def stored_count(ds_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE datastream_id = %s", [ds_id])
        return cur.fetchone()[0]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_it_stores_telemetry_objects_and_lists_of_them_and_rejects_garbage(mqtt_broker, tmp_path):
    device, s, _ = make_device(
        key=f"iot-t-{uuid.uuid4().hex[:6]}", metrics=(("pm25", "", 0, 1000), ("no2", "", 0, 2000))
    )
    bridge = BridgeProcess(mqtt_broker, f"iot-test-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    try:
        pub = publisher(mqtt_broker.port)
        topic = f"cityos/{device.key}/telemetry"
        pub.publish(topic, json.dumps({"ts": T0, "pm25": 10, "no2": 20}), qos=1).wait_for_publish(5)
        pub.publish(
            topic, json.dumps([{"ts": T0 + 60, "pm25": 11}, {"ts": T0 + 120, "pm25": 12}]), qos=1
        ).wait_for_publish(5)
        pub.publish(topic, b"not json", qos=1).wait_for_publish(5)
        pub.publish(topic, json.dumps({"ts": T0 + 180, "pm25": 5000}), qos=1).wait_for_publish(5)
        wait_until(lambda: stored_count(s["pm25"].id) == 3 and stored_count(s["no2"].id) == 1, 30, "4 readings stored")
        wait_until(
            lambda: (
                (IngestBatch.objects.filter(channel="mqtt").values_list("rejected", flat=True) or [0])
                and sum(IngestBatch.objects.filter(channel="mqtt").values_list("rejected", flat=True)) == 2
            ),
            10,
            "2 rejections",
        )
        reasons = [e["reason"] for b in IngestBatch.objects.filter(channel="mqtt") for e in b.errors]
        assert any("not JSON" in r for r in reasons) and any("outside" in r for r in reasons)
        pub.loop_stop()
    finally:
        bridge.stop()


@pytest.mark.django_db(transaction=True)
def test_it_stores_every_acknowledged_reading_exactly_once_through_sigkill_and_broker_restart(mqtt_broker, tmp_path):
    device, s, _ = make_device(key=f"iot-r-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),))
    ds = s["v"].id
    bridge = BridgeProcess(mqtt_broker, f"iot-test-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    topic = f"cityos/{device.key}/telemetry"
    n1, n2 = 12_000, 4_000
    try:
        pub = publisher(mqtt_broker.port)
        infos = [pub.publish(topic, json.dumps({"ts": T0 + i, "v": i}), qos=1) for i in range(n1)]
        # SIGKILL the bridge in the middle of ingest: some batches committed, some in flight.
        wait_until(lambda: stored_count(ds) > 1000, 60, "the first batches")
        bridge.kill()
        killed_at = stored_count(ds)
        for info in infos:
            info.wait_for_publish(60)  # every message acknowledged by the broker (queued for the session)
        assert all(i.is_published() for i in infos)
        bridge.start()
        wait_until(lambda: stored_count(ds) > killed_at, 60, "the restarted bridge to resume")
        # Restart the broker gracefully while the bridge may still be working through the queue.
        mqtt_broker.stop()
        mqtt_broker.start()
        pub.loop_stop()
        pub = publisher(mqtt_broker.port)
        infos = [pub.publish(topic, json.dumps({"ts": T0 + n1 + i, "v": n1 + i}), qos=1) for i in range(n2)]
        for info in infos:
            info.wait_for_publish(60)
        wait_until(lambda: stored_count(ds) >= n1 + n2, 90, f"{n1 + n2} readings stored")
        time.sleep(0.5)  # anything redelivered late must still not be stored twice
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(DISTINCT time), sum(value) FROM datahub_observation WHERE datastream_id = %s",
                [ds],
            )
            total, distinct, value_sum = cur.fetchone()
            cur.execute(
                "SELECT sum(count) FROM datahub_observation_rollup WHERE datastream_id = %s AND resolution = 'hour'",
                [ds],
            )
            rolled = cur.fetchone()[0]
        n = n1 + n2
        assert (total, distinct, value_sum) == (n, n, n * (n - 1) / 2)
        assert rolled == n  # redeliveries never double count in rollups
        assert killed_at < n1
        pub.loop_stop()
    finally:
        bridge.stop()
