"""The MQTT bridge against a real (private) Mosquitto and the real bridge process."""

import json
import os
import signal
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from django.db import connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from datahub.iot.services.mqtt import LEAN_PATH, MqttBridge, _LeanClient, mqtt_frames
from datahub.models import IngestBatch
from tests.datahub.conftest import BridgeProcess, mqtt_login
from tests.datahub.iot.factories import make_device
from tests.helpers import wait_until

T0 = datetime(2026, 2, 1, tzinfo=UTC).timestamp()


def publisher(port: int, key: str, secret: str) -> mqtt.Client:
    """A device's connection: it logs in with its key and secret, like a real one."""
    return mqtt_login(port, key, secret, client_id=f"iot-test-pub-{uuid.uuid4().hex[:8]}")


def stored_count(ds_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE datastream_id = %s", [ds_id])
        return cur.fetchone()[0]




@pytest.mark.django_db(transaction=True)
def test_it_stores_telemetry_objects_and_lists_of_them_and_rejects_garbage(mqtt_broker, tmp_path):
    device, s, secret = make_device(
        key=f"iot-t-{uuid.uuid4().hex[:6]}", metrics=(("pm25", "", 0, 1000), ("no2", "", 0, 2000))
    )
    bridge = BridgeProcess(mqtt_broker, f"iot-test-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    try:
        pub = publisher(mqtt_broker.port, device.key, secret)
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
    device, s, secret = make_device(key=f"iot-r-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),))
    ds = s["v"].id
    bridge = BridgeProcess(mqtt_broker, f"iot-test-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    topic = f"cityos/{device.key}/telemetry"
    n1, n2 = 12_000, 4_000
    try:
        pub = publisher(mqtt_broker.port, device.key, secret)
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
        pub = publisher(mqtt_broker.port, device.key, secret)
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


# --- the bridge's own parsing ------------------------------------------------------------------


def _publish_packet(topic: bytes, mid: int | None, payload: bytes, properties: bytes = b"\x00") -> bytes:
    """An MQTT 5 PUBLISH as the broker sends it (QoS 1 when `mid` is given, else QoS 0)."""
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if mid else b"") + properties + payload
    n, length = len(body), bytearray()
    while True:
        n, b = n >> 7, n & 127
        length.append(b | (128 if n else 0))
        if not n:
            break
    return bytes([0x32 if mid else 0x30]) + bytes(length) + body


def test_it_splits_a_byte_stream_into_mqtt_packets_wherever_a_read_cuts_it():
    topic = b"cityos/dev-1/telemetry"
    packets = [
        _publish_packet(topic, 1, b'{"ts":1,"v":1}'),
        _publish_packet(topic, 2, b"x" * 300),  # remaining length in 2 bytes
        _publish_packet(topic, 3, b'{"v":3}', properties=b"\x02\x01\x01"),  # a property: paho's path
        _publish_packet(topic, None, b'{"v":4}'),  # QoS 0: paho's path
        b"\xd0\x00",  # PINGRESP
        _publish_packet(topic, 65535, b"y" * 20000),  # remaining length in 3 bytes
    ]
    stream = b"".join(packets)
    frames, used = mqtt_frames(stream)
    assert used == len(stream)
    assert frames[0] == (1, topic, b'{"ts":1,"v":1}')
    assert frames[1] == (2, topic, b"x" * 300)
    assert frames[2][:2] == (0, 0x32) and frames[3][:2] == (0, 0x30) and frames[4] == (0, 0xD0, b"")
    assert frames[5] == (65535, topic, b"y" * 20000)
    for cut in range(len(stream)):
        head, used_head = mqtt_frames(stream[:cut])
        tail, used_tail = mqtt_frames(stream[used_head:])
        assert head + tail == frames and used_head + used_tail == len(stream), cut
    with pytest.raises(ValueError):
        mqtt_frames(b"\x32\xff\xff\xff\xff\x01")


def test_it_uses_the_lean_paho_path_with_the_pinned_paho():
    """The bridge's speed rests on paho-mqtt 2.2 internals: upgrading paho must come with a look."""
    assert LEAN_PATH
    assert isinstance(MqttBridge(host="127.0.0.1", port=1).client, _LeanClient)


@pytest.mark.django_db
def test_it_reads_telemetry_payloads_and_names_what_is_wrong_with_bad_ones():
    device, s, secret = make_device(
        key=f"iot-p-{uuid.uuid4().hex[:6]}", metrics=(("pm25", "", 0, 1000), ("no2", "", None, None))
    )
    topic = f"cityos/{device.key}/telemetry".encode()
    payloads = [
        b'{"ts": %d, "pm25": 10, "no2": 20.5}' % T0,
        b'[{"ts": %d, "pm25": 11}, {"ts": "2026-02-01T00:00:02+00:00", "pm25": 12}]' % (T0 + 1),
        b'{"ts": %d, "pm25": 13}' % ((T0 + 3) * 1000),  # milliseconds
        b' {"ts": %d, "pm25": 14} ' % (T0 + 4),  # whitespace around
        b'{"pm25": 15}',  # no ts: the time it arrived
        b'{"ts": %d, "pm25": 1}' % (time.time() + 3600),
        b'{"ts": 1%s, "pm25": 1}' % (b"0" * 400),
        b'{"ts": NaN, "pm25": 1}',
        b'{"ts": %d, "pm25": true, "no2": 1e999}' % T0,
        b'{"ts": %d, "no2": 1%s}' % (T0, b"0" * 400),
        b'{"ts": %d, "pm25": 5000, "bogus": 1}' % T0,
        b"42",
        b"not json",
        b"\xff\xfe",
    ]
    bridge = MqttBridge(host="127.0.0.1", port=1, client_id="iot-parse-test")
    before = time.time()
    rows, received, errors = bridge._rows([(1, [(i + 1, topic, p) for i, p in enumerate(payloads)])])
    pm, no2 = s["pm25"].id, s["no2"].id
    assert rows[:6] == [
        (pm, T0, 10.0),
        (no2, T0, 20.5),
        (pm, T0 + 1, 11.0),
        (pm, T0 + 2, 12.0),
        (pm, T0 + 3, 13.0),
        (pm, T0 + 4, 14.0),
    ]
    assert rows[6][:1] == (pm,) and before <= rows[6][1] <= time.time() and len(rows) == 7
    reasons = [(e["index"], e["field"], e["reason"].split(": ", 1)[1]) for e in errors]
    assert reasons == [
        (5, "ts", "time is in the future"),
        (6, "ts", "time is out of range"),
        (7, "ts", "time is out of range"),
        (8, "pm25", "value must be a number"),
        (8, "no2", "value must be finite"),
        (9, "no2", "value out of range"),
        (10, "pm25", "5000.0 outside [0.0, 1000.0]"),
        (10, "metric", "unknown metric 'bogus'"),
        (11, None, "telemetry must be a JSON object"),
        (12, None, "payload is not JSON"),
        (13, None, "payload is not JSON"),
    ]
    assert received == len(rows) + len(errors)


# --- the pool ----------------------------------------------------------------------------------


def session_present(broker, client_id: str) -> bool:
    """Whether the broker holds a session for `client_id` (the probe, logged in as the bridge,
    leaves none behind)."""
    port = broker.port
    seen = {}
    c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(*broker.bridge)
    c.on_connect = lambda client, userdata, flags, rc, props: seen.setdefault("present", flags.session_present)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    try:
        wait_until(lambda: "present" in seen, 10, "CONNACK")
    finally:
        c.disconnect()
        c.loop_stop()
    return bool(seen["present"])


def publish_all(port: int, topic: str, first: int, n: int, secret: str) -> None:
    pub = publisher(port, topic.split("/")[1], secret)
    infos = [pub.publish(topic, json.dumps({"ts": T0 + i, "v": i}), qos=1) for i in range(first, first + n)]
    for info in infos:
        info.wait_for_publish(60)
    assert all(i.is_published() for i in infos)
    pub.disconnect()
    pub.loop_stop()


def stored_exactly_once(ds: int, n: int) -> None:
    """Readings 0 … n-1 are stored once each, and counted once in the rollups."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT time), sum(value) FROM datahub_observation WHERE datastream_id = %s", [ds]
        )
        total, distinct, value_sum = cur.fetchone()
        cur.execute(
            "SELECT sum(count) FROM datahub_observation_rollup WHERE datastream_id = %s AND resolution = 'hour'", [ds]
        )
        rolled = cur.fetchone()[0]
    assert (total, distinct, value_sum, rolled) == (n, n, n * (n - 1) / 2, n)


@pytest.mark.django_db(transaction=True)
def test_it_spreads_messages_over_the_members_of_a_bridge_pool(mqtt_broker, tmp_path):
    device, s, secret = make_device(key=f"iot-s-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),))
    ds, n = s["v"].id, 4000
    pool = BridgeProcess(mqtt_broker, f"iot-pool-{uuid.uuid4().hex[:6]}", tmp_path / "pool.log", workers=2)
    pool.start()
    pool.wait_subscribed()
    try:
        publish_all(mqtt_broker.port, f"cityos/{device.key}/telemetry", 0, n, secret)
        wait_until(lambda: stored_count(ds) == n, 60, f"{n} readings stored")
        with connection.cursor() as cur:
            # Each member is a bridge session of its own: one lineage run each.
            cur.execute("SELECT run_id, count(*) FROM datahub_observation WHERE datastream_id = %s GROUP BY 1", [ds])
            per_member = dict(cur.fetchall())
        assert len(per_member) == 2 and min(per_member.values()) >= n // 4, per_member
        assert set(pool.member_pids()) == {f"{pool.client_id}-0", f"{pool.client_id}-1"}
        stored_exactly_once(ds, n)
    finally:
        pool.stop()


@pytest.mark.django_db(transaction=True)
def test_it_loses_nothing_when_a_pool_member_is_sigkilled_and_restarts_it(mqtt_broker, tmp_path):
    device, s, secret = make_device(key=f"iot-k-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),))
    ds, n = s["v"].id, 30_000
    pool = BridgeProcess(mqtt_broker, f"iot-pool-{uuid.uuid4().hex[:6]}", tmp_path / "pool.log", workers=2)
    pool.start()
    pool.wait_subscribed()
    victim = f"{pool.client_id}-0"
    try:
        pub = publisher(mqtt_broker.port, device.key, secret)
        topic = f"cityos/{device.key}/telemetry"
        infos = [pub.publish(topic, json.dumps({"ts": T0 + i, "v": i}), qos=1) for i in range(n)]
        wait_until(lambda: stored_count(ds) > 2000, 60, "the first batches")
        killed_pid = pool.member_pids()[victim]
        os.kill(killed_pid, signal.SIGKILL)  # in the middle of the stream: batches committed, others in flight
        killed_at = stored_count(ds)
        for info in infos:
            info.wait_for_publish(60)  # every message acknowledged by the broker
        assert all(i.is_published() for i in infos)
        wait_until(lambda: pool.member_pids()[victim] != killed_pid, 30, "the supervisor to restart the member")
        # The killed member's unacknowledged messages and its share since are queued in its
        # session: only the restarted member can store them.
        wait_until(lambda: stored_count(ds) == n, 90, f"{n} readings stored")
        time.sleep(0.5)  # anything redelivered late must still not be counted twice
        stored_exactly_once(ds, n)
        assert killed_at < n
        assert f"member {victim} (pid {killed_pid}) exited with -9" in pool.log.read_text()
        assert pool.proc.poll() is None
        pub.loop_stop()
    finally:
        pool.stop()


@pytest.mark.django_db(transaction=True)
def test_a_pool_keeps_its_queued_messages_and_resubscribes_through_broker_restarts(mqtt_broker, tmp_path):
    """Mosquitto 2.0.11 restores the members' sessions and queues but not their shared
    subscriptions: the members must subscribe again on every reconnection."""
    device, s, secret = make_device(key=f"iot-b-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),))
    ds = s["v"].id
    topic = f"cityos/{device.key}/telemetry"
    pool = BridgeProcess(mqtt_broker, f"iot-pool-{uuid.uuid4().hex[:6]}", tmp_path / "pool.log", workers=2)
    pool.start()
    pool.wait_subscribed()
    pool.stop()
    try:
        publish_all(mqtt_broker.port, topic, 0, 2000, secret)  # queued for the two stopped members
        mqtt_broker.stop()
        mqtt_broker.start()
        pool.start()
        pool.wait_subscribed()
        wait_until(lambda: stored_count(ds) == 2000, 60, "the queues kept through the restart")
        subscriptions = pool.log.read_text().count("MQTT bridge subscribed")
        mqtt_broker.stop()  # now with the members running
        mqtt_broker.start()
        wait_until(
            lambda: pool.log.read_text().count("MQTT bridge subscribed") == subscriptions + 2,
            30,
            "both members to subscribe again",
        )
        publish_all(mqtt_broker.port, topic, 2000, 2000, secret)
        wait_until(lambda: stored_count(ds) == 4000, 60, "the readings published after the restart")
        stored_exactly_once(ds, 4000)
        assert pool.proc.poll() is None
    finally:
        pool.stop()


@pytest.mark.django_db(transaction=True)
def test_it_retires_the_sessions_a_smaller_pool_no_longer_uses_after_storing_their_queue(mqtt_broker, tmp_path):
    device, s, secret = make_device(key=f"iot-t-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),))
    ds = s["v"].id
    topic = f"cityos/{device.key}/telemetry"
    base = f"iot-pool-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "bridge.log"
    # The single bridge that ran before the pool: its session collects 500 messages while down.
    single = BridgeProcess(mqtt_broker, base, log)
    single.start()
    single.wait_subscribed()
    single.stop()
    publish_all(mqtt_broker.port, topic, 0, 500, secret)
    pool = BridgeProcess(mqtt_broker, base, log, workers=3)
    try:
        pool.start()
        pool.wait_subscribed()
        wait_until(lambda: stored_count(ds) == 500, 60, "the single bridge's queue stored by the pool")
        wait_until(lambda: "retired the sessions of" in log.read_text(), 30, "the retirement")
        pool.stop()
        publish_all(mqtt_broker.port, topic, 500, 3000, secret)  # 1,000 queued for each of the 3 members
        pool = BridgeProcess(mqtt_broker, base, log, workers=2)
        pool.start()
        pool.wait_subscribed()
        wait_until(lambda: stored_count(ds) == 3500, 60, "member 2's queue stored after the pool shrank")
        wait_until(lambda: log.read_text().count("retired the sessions of") == 2, 30, "the second retirement")
        publish_all(mqtt_broker.port, topic, 3500, 900, secret)  # nothing goes to a retired session any more
        wait_until(lambda: stored_count(ds) == 4400, 60, "the readings published after")
        stored_exactly_once(ds, 4400)
    finally:
        pool.stop()
    assert not session_present(mqtt_broker, base)
    assert not session_present(mqtt_broker, f"{base}-2")
    assert session_present(mqtt_broker, f"{base}-1") is True
