"""Factories for datahub IoT objects (through the real services)."""

import itertools
import uuid

from django.contrib.gis.geos import MultiPolygon, Polygon

from datahub.iot.services import devices as iot_devices
from datahub.models import Area, Datastream, Device

_seq = itertools.count(1)


def make_area(*, level="district", lon0=120.0, lat0=30.0, size=0.1, parent=None, **kw) -> Area:
    n = next(_seq)
    poly = Polygon.from_bbox((lon0, lat0, lon0 + size, lat0 + size))
    return Area.objects.create(
        code=kw.pop("code", f"T{n:05d}"),
        name=kw.pop("name", f"区域{n}"),
        level=level,
        parent=parent,
        geometry=MultiPolygon(poly, srid=4326),
        **kw,
    )


def make_device(*, metrics=(("pm25", "µg/m³", 0, 1000),), device_type="air_quality", lon=None, lat=None, **kw):
    """A registered device with datastreams; returns (device, {metric: datastream}, secret)."""
    n = next(_seq)
    cred = iot_devices.device_register(
        key=kw.pop("key", f"dev-{n}-{uuid.uuid4().hex[:6]}"),
        name=kw.pop("name", f"设备{n}"),
        device_type=device_type,
        lon=lon,
        lat=lat,
        **kw,
    )
    streams: dict[str, Datastream] = {}
    for metric, unit, lo, hi in metrics:
        streams[metric] = iot_devices.datastream_create(
            device_id=cred.device_id, metric=metric, unit=unit, valid_min=lo, valid_max=hi
        )
    return Device.objects.get(id=cred.device_id), streams, cred.secret
