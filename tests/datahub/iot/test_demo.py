import json
import subprocess
import sys
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest

from datahub.iot.demo import demo_devices, sensor_reading
from datahub.models import Datastream, Device
from tests.datahub.conftest import ROOT
from tests.demo_snapshot import demo_city
from tests.helpers import child_database_url

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, h) -> float:
    return datetime(y, m, d, h, tzinfo=TZ).timestamp()


def test_it_makes_the_same_readings_for_the_same_seed_and_others_for_another():
    t = at(2026, 11, 24, 8)
    assert sensor_reading(seed=1, key="demo-x", kind="air_quality", t=t) == sensor_reading(
        seed=1, key="demo-x", kind="air_quality", t=t
    )
    assert sensor_reading(seed=1, key="demo-x", kind="air_quality", t=t) != sensor_reading(
        seed=2, key="demo-x", kind="air_quality", t=t
    )


def test_it_follows_daily_and_weekly_cycles():
    def mean_flow(day, hour):
        vals = [
            sensor_reading(seed=7, key=f"demo-tf-{i}", kind="traffic_flow", t=at(2026, 11, day, hour))
            for i in range(40)
        ]
        vals = [v["flow"] for v in vals if v]
        return sum(vals) / len(vals)

    # Tue 24 Nov 2026: rush hour beats the night; Sunday 29 Nov's rush hour is lighter
    assert mean_flow(24, 8) > 3 * mean_flow(24, 3)
    assert mean_flow(29, 8) < 0.75 * mean_flow(24, 8)


def test_it_has_rare_outages_and_anomalies():
    readings = [
        sensor_reading(seed=3, key="demo-aq", kind="air_quality", t=at(2026, 11, 1, 0) + 600 * i)
        for i in range(6 * 24 * 60)
    ]
    outages = sum(r is None for r in readings) / len(readings)
    assert 0.002 < outages < 0.06
    pm = sorted(r["pm25"] for r in readings if r)
    assert pm[-1] > 2 * pm[len(pm) // 2]  # spikes stand out of the median


@pytest.mark.django_db
def test_it_registers_demo_sensors_in_the_demo_city_idempotently():
    demo_city()
    first = list(Device.objects.filter(key__startswith="demo-").order_by("key").values_list("key", "area_id", "point"))
    demo_city()
    again = list(Device.objects.filter(key__startswith="demo-").order_by("key").values_list("key", "area_id", "point"))
    assert first == again and len(first) == 6 * 10
    assert all(area_id is not None for _, area_id, _ in first)
    assert set(Device.objects.filter(key__startswith="demo-").values_list("device_type", flat=True)) == {
        "air_quality",
        "water_level",
        "traffic_flow",
        "noise",
        "parking",
        "electricity",
    }
    assert (
        Datastream.objects.filter(device__key__startswith="demo-").count() == 6 * 20
    )  # per district: 2x4 air + 1 water + 2x2 traffic + 1 noise + 2 parking + 2x2 meters


@pytest.mark.django_db(transaction=True)
def test_it_publishes_the_demo_sensors_over_mqtt(mqtt_broker):
    demo_city()
    got = []
    sub = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"iot-test-sim-{uuid.uuid4().hex[:6]}"
    )
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    sub.username_pw_set(*mqtt_broker.bridge)  # what the bridge may read
    sub.connect("127.0.0.1", mqtt_broker.port)
    sub.subscribe("cityos/+/telemetry", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    env = {"DJANGO_SETTINGS_MODULE": "cityos.settings.test", "DATABASE_URL": child_database_url(), **mqtt_broker.env()}
    import os

    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate_sensors",
            "--port",
            str(mqtt_broker.port),
            "--ticks",
            "1",
            "--backfill-hours",
            "0",
        ],
        cwd=ROOT,
        env=dict(os.environ, **env),
        check=True,
        timeout=60,
    )
    deadline = time.monotonic() + 10
    while len(got) < 50 and time.monotonic() < deadline:
        time.sleep(0.1)
    sub.loop_stop()
    keys = {topic.split("/")[1] for topic, _ in got}
    assert keys <= {k for k, _ in demo_devices()} and len(keys) >= 50  # all but the few in an outage
    assert all("ts" in payload for _, payload in got)
