"""Device authentication at the MQTT broker (Mosquitto dynamic security) and a bridge that
follows the device registry: against a private broker, the real bridge process and Redis."""

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from cityos.roles import Role
from datahub.iot.services import devices as iot_devices
from datahub.iot.services.broker import Dynsec, device_role
from datahub.iot.services.mqtt import MqttBridge
from datahub.models import Device, IngestBatch
from tests.datahub.conftest import BridgeProcess, mqtt_login
from tests.datahub.iot.factories import make_device
from tests.factories import make_user
from tests.helpers import free_port, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 2, 1, tzinfo=UTC).timestamp()


def stored_count(ds_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE datastream_id = %s", [ds_id])
        return cur.fetchone()[0]




def refused(port: int, username, password) -> bool:
    try:
        c = mqtt_login(port, username, password)
    except PermissionError:
        return True
    c.disconnect()
    c.loop_stop()
    return False


def reader(broker):
    """A subscriber with the bridge's credentials: sees what the broker lets through."""
    got = []
    c = mqtt_login(broker.port, *broker.bridge)
    c.on_message = lambda _c, _u, m: got.append((m.topic, m.payload))
    c.subscribe("cityos/+/telemetry", qos=1)
    time.sleep(0.3)
    return c, got


def admin_client():
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(make_user(role=Role.ADMINISTRATOR, username=f"adm-{uuid.uuid4().hex[:6]}"))
    return client


def test_an_unauthenticated_client_cannot_connect_nor_publish(mqtt_broker):
    device, _s, secret = make_device()
    assert refused(mqtt_broker.port, None, None)  # anonymous
    assert refused(mqtt_broker.port, device.key, "not-its-secret")
    assert refused(mqtt_broker.port, "no-such-device", secret)
    assert not refused(mqtt_broker.port, device.key, secret)
    assert Device.objects.get(id=device.id).broker_synced


def test_a_device_publishes_only_to_its_own_topic_and_subscribes_to_nothing(mqtt_broker):
    alice, _s, alice_secret = make_device(key=f"alice-{uuid.uuid4().hex[:6]}")
    bob, _s, _ = make_device(key=f"bob-{uuid.uuid4().hex[:6]}")
    sub, got = reader(mqtt_broker)
    pub = mqtt_login(mqtt_broker.port, alice.key, alice_secret)
    pub.publish(f"cityos/{bob.key}/telemetry", b'{"pm25": 666}', qos=1).wait_for_publish(5)
    pub.publish("cityos/other/thing", b"x", qos=1).wait_for_publish(5)
    pub.publish(f"cityos/{alice.key}/telemetry", b'{"pm25": 1}', qos=1).wait_for_publish(5)
    wait_until(lambda: got, 5, "alice's own reading")
    time.sleep(0.3)
    assert got == [(f"cityos/{alice.key}/telemetry", b'{"pm25": 1}')]
    # Nor may a device read others' telemetry.
    granted = {}
    pub.on_subscribe = lambda _c, _u, _mid, rcs, _p: granted.setdefault("rcs", rcs)
    pub.subscribe("cityos/+/telemetry", qos=1)
    wait_until(lambda: "rcs" in granted, 5, "SUBACK")
    assert all(rc.is_failure for rc in granted["rcs"])
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()


def test_a_deactivated_device_is_cut_off_at_the_broker_and_refused_by_the_bridge_within_seconds(mqtt_broker, tmp_path):
    device, s, secret = make_device(key=f"off-{uuid.uuid4().hex[:6]}")
    ds = s["pm25"].id
    bridge = BridgeProcess(mqtt_broker, f"iot-auth-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    try:
        pub = mqtt_login(mqtt_broker.port, device.key, secret)
        disconnected = []
        pub.on_disconnect = lambda *_a: disconnected.append(time.monotonic())
        pub.publish(f"cityos/{device.key}/telemetry", json.dumps({"ts": T0, "pm25": 1}), qos=1).wait_for_publish(5)
        wait_until(lambda: stored_count(ds) == 1, 30, "the first reading")

        resp = admin_client().patch(f"/api/v1/datahub/devices/{device.id}/", {"is_active": False}, format="json")
        assert resp.status_code == 200, resp.content
        assert resp.json()["is_active"] is False and resp.json()["broker_synced"] is True
        # The broker drops its connection and refuses it from now on.
        wait_until(lambda: disconnected, 5, "the broker to disconnect the device")
        pub.loop_stop()
        assert refused(mqtt_broker.port, device.key, secret)
    finally:
        bridge.stop()
    assert stored_count(ds) == 1


def test_the_bridge_refuses_a_switched_off_devices_readings_within_seconds(mqtt_broker):
    """Readings a device sent before it was switched off may still wait at the broker: the
    bridge's resolver learns of the change through the registry version."""
    device, s, _ = make_device(key=f"late-{uuid.uuid4().hex[:6]}")
    bridge = MqttBridge(host="127.0.0.1", port=mqtt_broker.port)  # not connected: only its parsing
    topic = f"cityos/{device.key}/telemetry".encode()
    payload = json.dumps({"ts": T0, "pm25": 3}).encode()
    rows, _n, errors = bridge._rows([(0, [(1, topic, payload)])])
    assert len(rows) == 1 and not errors
    iot_devices.device_set_active(device_id=device.id, active=False)
    took = wait_until(lambda: bridge._rows([(0, [(1, topic, payload)])])[0] == [], 5, "the bridge to refuse")
    assert took < 2.5
    _rows, _n, errors = bridge._rows([(0, [(1, topic, payload)])])
    assert errors[0]["reason"] == f"device {device.key}: unknown or switched-off device"
    # Switched on again: accepted again.
    iot_devices.device_set_active(device_id=device.id, active=True)
    wait_until(lambda: len(bridge._rows([(0, [(1, topic, payload)])])[0]) == 1, 5, "the bridge to accept again")


def test_a_rotated_secret_works_and_the_old_one_does_not(mqtt_broker, tmp_path):
    device, s, old_secret = make_device(key=f"rot-{uuid.uuid4().hex[:6]}")
    old_conn = mqtt_login(mqtt_broker.port, device.key, old_secret)
    dropped = []
    old_conn.on_disconnect = lambda *_a: dropped.append(1)
    resp = admin_client().post(f"/api/v1/datahub/devices/{device.id}/rotate-credential/")
    assert resp.status_code == 200, resp.content
    new_secret = resp.json()["secret"]
    assert resp.json()["broker_synced"] is True and new_secret != old_secret
    wait_until(lambda: dropped, 5, "the connection with the old secret to be dropped")
    old_conn.loop_stop()
    assert refused(mqtt_broker.port, device.key, old_secret)
    bridge = BridgeProcess(mqtt_broker, f"iot-rot-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    try:
        pub = mqtt_login(mqtt_broker.port, device.key, new_secret)
        pub.publish(f"cityos/{device.key}/telemetry", json.dumps({"ts": T0, "pm25": 2}), qos=1).wait_for_publish(5)
        wait_until(lambda: stored_count(s["pm25"].id) == 1, 30, "the reading sent with the new secret")
        pub.disconnect()
        pub.loop_stop()
    finally:
        bridge.stop()


def test_a_deleted_device_can_no_longer_log_in(mqtt_broker):
    device, _s, secret = make_device(key=f"del-{uuid.uuid4().hex[:6]}")
    assert not refused(mqtt_broker.port, device.key, secret)
    resp = admin_client().delete(f"/api/v1/datahub/devices/{device.id}/")
    assert resp.status_code == 204, resp.content
    assert refused(mqtt_broker.port, device.key, secret)
    with Dynsec() as dyn:
        assert device.key not in dyn.list_clients() and device_role(device.key) not in dyn.list_roles()


def test_a_datastream_added_to_a_publishing_device_is_accepted_without_restarting_the_bridge(mqtt_broker, tmp_path):
    device, s, secret = make_device(key=f"new-ds-{uuid.uuid4().hex[:6]}")
    bridge = BridgeProcess(mqtt_broker, f"iot-ds-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    topic = f"cityos/{device.key}/telemetry"
    try:
        pub = mqtt_login(mqtt_broker.port, device.key, secret)
        pub.publish(topic, json.dumps({"ts": T0, "pm25": 5, "no2": 7}), qos=1).wait_for_publish(5)
        wait_until(lambda: stored_count(s["pm25"].id) == 1, 30, "pm25 stored")
        wait_until(lambda: IngestBatch.objects.filter(channel="mqtt", rejected__gt=0).exists(), 10, "no2 refused")
        reasons = [e["reason"] for b in IngestBatch.objects.filter(channel="mqtt") for e in b.errors]
        assert f"device {device.key}: unknown metric 'no2'" in reasons

        resp = admin_client().post(
            "/api/v1/datahub/datastreams/",
            {"device_id": device.id, "metric": "no2", "unit": "µg/m³", "valid_min": 0, "valid_max": 2000},
            format="json",
        )
        assert resp.status_code == 201, resp.content
        no2 = resp.json()["id"]
        t = T0 + 60

        def accepted() -> bool:
            nonlocal t
            t += 1
            pub.publish(topic, json.dumps({"ts": t, "no2": 8}), qos=1).wait_for_publish(5)
            time.sleep(0.3)
            return stored_count(no2) > 0

        took = wait_until(accepted, 10, "the new datastream to be accepted")
        assert took < 5
        pub.disconnect()
        pub.loop_stop()
    finally:
        bridge.stop()


def test_a_changed_valid_range_reaches_a_running_bridge_within_seconds(mqtt_broker):
    device, s, _ = make_device(key=f"rng-{uuid.uuid4().hex[:6]}", metrics=(("pm25", "", 0, 100),))
    bridge = MqttBridge(host="127.0.0.1", port=mqtt_broker.port)
    frame = [(0, [(1, f"cityos/{device.key}/telemetry".encode(), json.dumps({"ts": T0, "pm25": 500}).encode())])]
    assert bridge._rows(frame)[0] == []  # out of range
    iot_devices.datastream_create(device_id=device.id, metric="pm25", valid_min=0, valid_max=1000)
    wait_until(lambda: len(bridge._rows(frame)[0]) == 1, 5, "the new range at the bridge")


def test_an_unreachable_broker_keeps_the_change_marks_it_pending_and_reconcile_repairs_everything(mqtt_broker):
    kept, _s, kept_secret = make_device(key=f"kept-{uuid.uuid4().hex[:6]}")
    lost, _s, lost_secret = make_device(key=f"lost-{uuid.uuid4().hex[:6]}")
    off, _s, off_secret = make_device(key=f"off-{uuid.uuid4().hex[:6]}")
    iot_devices.device_set_active(device_id=off.id, active=False)
    # The broker is unreachable: a rotation and a registration are stored, marked pending.
    with override_settings(MQTT_PORT=free_port()):
        rotated = iot_devices.device_credential_rotate(device_id=kept.id)
        late = iot_devices.device_register(key=f"late-{uuid.uuid4().hex[:6]}", name="late", device_type="noise")
    for device_id in (kept.id, late.device_id):
        d = Device.objects.get(id=device_id)
        assert not d.broker_synced and "Connection refused" in d.broker_error
    assert refused(mqtt_broker.port, kept.key, rotated.secret) and not refused(mqtt_broker.port, kept.key, kept_secret)
    assert refused(mqtt_broker.port, late.key, late.secret)
    # Drift made at the broker by hand: a lost client, a device re-enabled, a wrong ACL, a ghost.
    with Dynsec() as dyn:
        dyn.run(
            [
                {"command": "deleteClient", "username": lost.key},
                {"command": "enableClient", "username": off.key},
                {
                    "command": "addRoleACL",
                    "rolename": device_role(kept.key),
                    "acltype": "publishClientSend",
                    "topic": "#",
                    "allow": True,
                },
                {"command": "createRole", "rolename": device_role("ghost")},
                {
                    "command": "createClient",
                    "username": "ghost",
                    "password": "boo",
                    "roles": [{"rolename": device_role("ghost")}],
                },
                {"command": "deleteClient", "username": mqtt_broker.bridge[0]},
            ]
        )
    assert not refused(mqtt_broker.port, off.key, off_secret) and not refused(mqtt_broker.port, "ghost", "boo")

    call_command("mqtt_reconcile")

    assert not refused(mqtt_broker.port, kept.key, rotated.secret) and refused(mqtt_broker.port, kept.key, kept_secret)
    assert not refused(mqtt_broker.port, late.key, late.secret)
    assert not refused(mqtt_broker.port, lost.key, lost_secret)
    assert refused(mqtt_broker.port, off.key, off_secret)
    assert refused(mqtt_broker.port, "ghost", "boo")
    assert not refused(mqtt_broker.port, *mqtt_broker.bridge)
    with Dynsec() as dyn:
        roles, clients = dyn.list_roles(), dyn.list_clients()
    assert [a["topic"] for a in roles[device_role(kept.key)]["acls"]] == [f"cityos/{kept.key}/telemetry"]
    assert device_role("ghost") not in roles and "ghost" not in clients
    assert all(d.broker_synced and not d.broker_error for d in Device.objects.all())
    # Nothing left to repair: a second run changes nothing.
    out = []
    call_command(
        "mqtt_reconcile", stdout=type("W", (), {"write": lambda _s, m: out.append(m), "flush": lambda _s: None})()
    )
    assert "0 created, 0 repaired, 0 deleted" in out[0], out


def test_the_beat_job_restores_a_client_the_broker_lost_and_skips_an_unmanaged_broker(mqtt_broker):
    from datahub.iot.tasks import mqtt_reconcile_task

    device, _s, secret = make_device(key=f"beat-{uuid.uuid4().hex[:6]}")
    with Dynsec() as dyn:
        dyn.run([{"command": "deleteClient", "username": device.key}])
    assert refused(mqtt_broker.port, device.key, secret)
    result = mqtt_reconcile_task.apply().get()
    assert result["created"] == [device.key] and result["errors"] == {}
    assert not refused(mqtt_broker.port, device.key, secret)
    with override_settings(MQTT_ADMIN_PASSWORD=""):
        assert "skipped" in mqtt_reconcile_task.apply().get()
