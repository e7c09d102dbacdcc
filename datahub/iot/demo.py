"""Demo city sensors: devices registered in Binjiang's districts, and the values they report.

`build_iot_devices` is a demo-city step (appended to cityos.demo.city.STEPS); the values come
from `sensor_reading`, a pure function of (seed, device, time) with daily and weekly cycles,
noise, rare anomalies (spikes) and outages, so a rerun with the same seed publishes the same
series. The `simulate_sensors` command publishes them over real MQTT.
"""

import math
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from datahub.core.models import Area, Department
from datahub.iot.models import Device

DEMO_PREFIX = "demo-"
INTERVAL_S = 10  # the simulator's default reporting interval
TZ = ZoneInfo("Asia/Shanghai")
# Per device and tick: 0.2% of readings are spikes (x2.5-4); per device and hour: 2% of hours
# are outages (no message at all), enough to see offline devices and alerts in a demo hour.
ANOMALY_P = 0.002
OUTAGE_P = 0.02

# kind: (name, owner department, count per district, [(metric, property, unit, min, max)])
KINDS = {
    "air_quality": (
        "空气质量监测站",
        "ecology-environment",
        2,
        [
            ("pm25", "PM2.5", "µg/m³", 0, 1000),
            ("pm10", "PM10", "µg/m³", 0, 2000),
            ("no2", "NO2", "µg/m³", 0, 1000),
            ("o3", "O3", "µg/m³", 0, 1000),
        ],
    ),
    "water_level": ("水位监测点", "water-affairs", 1, [("level", "water level", "m", -5, 30)]),
    "traffic_flow": (
        "交通流量检测器",
        "transport",
        2,
        [
            ("flow", "vehicle flow", "veh/min", 0, 300),
            ("speed", "mean speed", "km/h", 0, 160),
        ],
    ),
    "noise": ("噪声监测点", "ecology-environment", 1, [("laeq", "sound level LAeq", "dB(A)", 20, 140)]),
    "parking": ("停车场占用传感器", "urban-management", 2, [("occupancy", "parking occupancy", "%", 0, 100)]),
    "electricity": (
        "智能电表",
        "urban-management",
        2,
        [
            ("power", "active power", "kW", 0, 10000),
            ("energy", "energy", "kWh", 0, None),
        ],
    ),
}


def device_key(kind: str, district: int, n: int) -> str:
    return f"{DEMO_PREFIX}{kind.replace('_', '')}-{district}-{n}"


def build_iot_devices(ctx) -> None:
    """Register the demo sensors (idempotent: stable keys, update_or_create datastreams)."""
    from cityos.demo.city import random_point_in
    from datahub.iot.services.devices import datastream_create, device_register

    rng = random.Random(ctx.seed + 4)
    districts = list(Area.objects.filter(level="district", code__startswith="9901").order_by("code"))
    depts = dict(Department.objects.values_list("code", "id"))
    for d_index, district in enumerate(districts, start=1):
        for kind, (label, dept, count, metrics) in KINDS.items():
            for n in range(1, count + 1):
                key = device_key(kind, d_index, n)
                point = random_point_in(district, rng)  # drawn even when the device exists: same rng path
                device = Device.objects.filter(key=key).first()
                if device is None:
                    device_id = device_register(
                        key=key,
                        name=f"{district.name}{label}{n}",
                        name_en=f"{district.name_en} {kind} {n}",
                        device_type=kind,
                        model="CityOS-SIM",
                        lon=point.x,
                        lat=point.y,
                        owner_department_id=depts.get(dept),
                        expected_interval_s=INTERVAL_S,
                    ).device_id
                else:
                    device_id = device.id
                for metric, prop, unit, lo, hi in metrics:
                    datastream_create(
                        device_id=device_id,
                        metric=metric,
                        observed_property=prop,
                        unit=unit,
                        valid_min=lo,
                        valid_max=hi,
                    )


def _rush(hour: float) -> float:
    """0..~1.1: morning (08:00) and evening (18:00) peaks."""
    return 0.15 + math.exp(-(((hour - 8) / 1.5) ** 2)) + 0.9 * math.exp(-(((hour - 18) / 2.0) ** 2))


def is_out(*, seed: int, key: str, t: float) -> bool:
    return random.Random(f"{seed}:{key}:out:{int(t // 3600)}").random() < OUTAGE_P


def sensor_reading(*, seed: int, key: str, kind: str, t: float) -> dict[str, float] | None:
    """The metric values device `key` reports at epoch time t, or None during an outage."""
    if is_out(seed=seed, key=key, t=t):
        return None
    local = datetime.fromtimestamp(t, UTC).astimezone(TZ)
    hour = local.hour + local.minute / 60
    weekend = local.weekday() >= 5
    rng = random.Random(f"{seed}:{key}:{int(t)}")
    site = random.Random(f"{seed}:{key}").uniform(0.8, 1.2)  # each site its own level
    rush = _rush(hour) * (0.6 if weekend else 1.0)
    spike = rng.uniform(2.5, 4.0) if rng.random() < ANOMALY_P else 1.0

    def noisy(x: float, rel: float = 0.05) -> float:
        return max(0.0, x * (1 + rng.gauss(0, rel)))

    if kind == "air_quality":
        pm25 = noisy(site * (28 + 30 * rush + (8 if weekend else 0)), 0.08) * spike
        return {
            "pm25": round(pm25, 1),
            "pm10": round(pm25 * 1.6, 1),
            "no2": round(noisy(site * (20 + 35 * rush)), 1),
            "o3": round(noisy(site * (40 + 60 * max(0.0, math.sin(math.pi * (hour - 7) / 12)))), 1),
        }
    if kind == "water_level":
        tide = 0.5 * math.sin(2 * math.pi * t / (12.42 * 3600))
        return {"level": round(site * 3.0 + tide + rng.gauss(0, 0.02) + (1.5 if spike > 1 else 0), 3)}
    if kind == "traffic_flow":
        flow = noisy(site * 90 * rush, 0.1)
        return {"flow": round(flow * spike, 1), "speed": round(max(5.0, 65 - 0.35 * flow + rng.gauss(0, 3)), 1)}
    if kind == "noise":
        return {"laeq": round(min(139.0, site * (42 + 18 * rush) + rng.gauss(0, 1.5) + (20 if spike > 1 else 0)), 1)}
    if kind == "parking":
        office = 1 / (1 + math.exp(-(hour - 8.5) * 2)) - 1 / (1 + math.exp(-(hour - 18.5) * 2))
        occ = (15 + (70 if not weekend else 35) * office) * site + rng.gauss(0, 3)
        return {"occupancy": round(min(100.0, max(0.0, occ)), 1)}
    if kind == "electricity":
        working = 1 / (1 + math.exp(-(hour - 8) * 2)) - 1 / (1 + math.exp(-(hour - 20) * 2))
        mean_kw = site * (180 + (320 if not weekend else 120) * working)
        # The counter integrates the site's daily mean (~330 kW), so it only ever grows.
        energy = site * 330 * (t - 1.7e9) / 3600
        return {"power": round(noisy(mean_kw) * spike, 1), "energy": round(energy, 1)}
    return None


def demo_devices() -> list[tuple[str, str]]:
    """(key, kind) of every registered demo sensor, by key."""
    return list(Device.objects.filter(key__startswith=DEMO_PREFIX).order_by("key").values_list("key", "device_type"))


def demo_device_credentials() -> list[tuple[str, str, str]]:
    """(key, kind, secret) of every demo sensor, for the simulator, which logs in as each device.
    A device without a readable secret (registered before secrets were kept for the broker, or
    sealed with another SECRET_KEY) gets a new one, pushed to the broker like any rotation."""
    from datahub.iot.services.devices import device_credential_rotate, device_mqtt_secret

    out = []
    for device in Device.objects.filter(key__startswith=DEMO_PREFIX).order_by("key"):
        secret = device_mqtt_secret(device)
        if secret is None:
            secret = device_credential_rotate(device_id=device.id).secret
        out.append((device.key, device.device_type, secret))
    return out


def _register_step() -> None:
    from cityos.demo.city import STEPS

    if all(name != "iot devices" for name, _ in STEPS):
        STEPS.append(("iot devices", build_iot_devices))


__all__ = ["build_iot_devices", "demo_device_credentials", "demo_devices", "sensor_reading"]
