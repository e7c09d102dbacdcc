"""Device and datastream registration, credentials, bulk registration from CSV.

A device's secret is its HTTP credential (`Authorization: Device <key>:<secret>`, checked against
its sha256) and its MQTT password (username = key). Every change the MQTT broker must know of
(register, rotate, activate/deactivate, delete) is pushed to it after commit
(`iot_broker.devices_broker_sync_on_commit`); see datahub.iot.services.broker.
"""

import base64
import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import F

from datahub.core.models import Area, Department, Entity, EntityIdentifier
from datahub.iot.models import Datastream, Device
from datahub.iot.services.broker import devices_broker_sync_on_commit
from datahub.iot.services.ingest import registry_changed_on_commit

KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
AREA_LEVEL_PREFERENCE = ["grid", "community", "street", "district", "city", "province"]


class RegistrationError(ValueError):
    def __init__(self, message: str, *, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.row, self.column = row, column


@dataclass(frozen=True)
class DeviceCredential:
    device_id: int
    key: str
    secret: str  # shown once; only its sha256 is stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _fernet() -> Fernet:
    material = settings.DEVICE_SECRETS_KEY or settings.SECRET_KEY
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"cityos-device-secrets:" + material.encode()).digest()))


def _seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def device_mqtt_secret(device: Device) -> str | None:
    """The device's secret in clear (for the broker), or None when none is stored or the key
    that sealed it is gone (DEVICE_SECRETS_KEY / SECRET_KEY changed): rotate the credential."""
    if not device.mqtt_secret:
        return None
    try:
        secret = _fernet().decrypt(device.mqtt_secret.encode()).decode()
    except InvalidToken:
        return None
    return secret if hmac.compare_digest(_hash(secret), device.credential_hash) else None


def iot_registry_changed() -> None:
    """Tell every resolver (HTTP ingest in each web process, every MQTT bridge) that devices or
    datastreams changed: they reload within a second of the commit. (The post_save/post_delete
    signals do it too; this covers queryset updates.)"""
    registry_changed_on_commit()


def _locate(lon: float, lat: float) -> Area | None:
    from datahub.core.selectors import areas as area_selectors

    found = area_selectors.area_locate(lon=lon, lat=lat)
    for level in AREA_LEVEL_PREFERENCE:
        if level in found:
            return Area.objects.get(id=found[level].id)
    return None


def device_register(
    *,
    key: str,
    name: str,
    device_type: str,
    model: str = "",
    lon: float | None = None,
    lat: float | None = None,
    owner_department_id: int | None = None,
    expected_interval_s: int = 60,
    name_en: str = "",
    attributes: dict | None = None,
) -> DeviceCredential:
    """Register a device (an Entity of type "device" + its Device row) and issue its secret.

    The area is the most detailed one containing the point (grid before street before district).
    """
    if not KEY_RE.fullmatch(key or ""):
        raise RegistrationError("key must be 1-64 letters, digits, - or _ (it is an MQTT topic level)", column="key")
    if not name:
        raise RegistrationError("name is required", column="name")
    if device_type not in Device.Type.values:
        raise RegistrationError(f"unknown device type {device_type!r}", column="device_type")
    if Device.objects.filter(key=key).exists():
        raise RegistrationError(f"device key {key!r} is already registered", column="key")
    if (lon is None) != (lat is None):
        raise RegistrationError("lon and lat go together", column="lon")
    if lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise RegistrationError("lon/lat out of range", column="lon")
    if expected_interval_s <= 0:
        raise RegistrationError("expected_interval_s must be positive", column="expected_interval_s")
    point = Point(lon, lat, srid=4326) if lon is not None else None
    area = _locate(lon, lat) if point is not None else None
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        entity = Entity.objects.create(
            type=Entity.Type.DEVICE,
            name=name,
            name_en=name_en,
            geometry=point,
            area=area,
            department_id=owner_department_id,
            attributes={"device_type": device_type, "model": model, **(attributes or {})},
        )
        EntityIdentifier.objects.create(entity=entity, scheme="device_key", value=key)
        device = Device.objects.create(
            entity=entity,
            key=key,
            device_type=device_type,
            model=model,
            point=point,
            area=area,
            owner_department_id=owner_department_id,
            expected_interval_s=expected_interval_s,
            credential_hash=_hash(secret),
            mqtt_secret=_seal(secret),
        )
        devices_broker_sync_on_commit(key)
        iot_registry_changed()
    return DeviceCredential(device_id=device.id, key=key, secret=secret)


def device_credential_rotate(*, device_id: int) -> DeviceCredential:
    """A new secret for HTTP and MQTT; the old one stops working (the broker drops a connection
    that used it)."""
    device = Device.objects.get(id=device_id)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        Device.objects.filter(id=device_id).update(
            credential_hash=_hash(secret), mqtt_secret=_seal(secret), broker_revision=F("broker_revision") + 1
        )
        devices_broker_sync_on_commit(device.key)
    return DeviceCredential(device_id=device.id, key=device.key, secret=secret)


DEVICE_EDITABLE = {
    "device_type",
    "model",
    "owner_department",
    "owner_department_id",
    "expected_interval_s",
    "is_active",
}


def device_update(*, device_id: int, **changes) -> Device:
    """Change a device's editable fields. Switching it off (is_active=False) stops both ingest
    paths at once: HTTP refuses its credential, the broker disables (and disconnects) its client
    and every MQTT bridge refuses its readings within a second."""
    unknown = set(changes) - DEVICE_EDITABLE
    if unknown:
        raise RegistrationError(f"cannot change {', '.join(sorted(unknown))}", column=sorted(unknown)[0])
    if "expected_interval_s" in changes and not changes["expected_interval_s"] > 0:
        raise RegistrationError("expected_interval_s must be positive", column="expected_interval_s")
    if "device_type" in changes and changes["device_type"] not in Device.Type.values:
        raise RegistrationError(f"unknown device type {changes['device_type']!r}", column="device_type")
    with transaction.atomic():
        device = Device.objects.select_for_update().get(id=device_id)
        was_active = device.is_active
        for name, value in changes.items():
            setattr(device, name, value)
        if device.is_active != was_active:
            device.broker_revision += 1
            devices_broker_sync_on_commit(device.key)
        device.save()
        iot_registry_changed()
    # The broker's answer (after commit) was recorded by a queryset update.
    device.refresh_from_db(fields=["broker_synced_revision", "broker_synced_at", "broker_error"])
    return device


def device_set_active(*, device_id: int, active: bool) -> Device:
    return device_update(device_id=device_id, is_active=active)


def device_delete(*, device_id: int) -> str:
    """Delete a device and its datastreams (their stored readings stay, as history); its broker
    client and role go with it; its registry entity stays (events refer to it). Returns the key."""
    with transaction.atomic():
        device = Device.objects.select_for_update().get(id=device_id)
        key = device.key
        device.delete()
        devices_broker_sync_on_commit(key)
        iot_registry_changed()
    return key


def device_authenticate(*, key: str, secret: str) -> Device | None:
    device = Device.objects.filter(key=key, is_active=True).first()
    if device is None or not device.credential_hash:
        return None
    return device if hmac.compare_digest(device.credential_hash, _hash(secret)) else None


def datastream_create(
    *,
    device_id: int,
    metric: str,
    observed_property: str = "",
    unit: str = "",
    valid_min: float | None = None,
    valid_max: float | None = None,
    name: str = "",
) -> Datastream:
    if valid_min is not None and valid_max is not None and valid_min > valid_max:
        raise RegistrationError("valid_min is greater than valid_max", column="valid_min")
    ds, _ = Datastream.objects.update_or_create(
        device_id=device_id,
        metric=metric,
        defaults={
            "observed_property": observed_property or metric,
            "unit": unit,
            "valid_min": valid_min,
            "valid_max": valid_max,
            "name": name,
        },
    )
    iot_registry_changed()
    return ds


CSV_COLUMNS = ["key", "name", "device_type", "model", "lon", "lat", "department", "expected_interval_s", "datastreams"]


def _opt_float(raw: str, *, row: int, column: str) -> float | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise RegistrationError(
            f"row {row}, column {column}: {raw!r} is not a number", row=row, column=column
        ) from None


def devices_register_csv(
    *, text: str, allowed_department_ids: set[int] | None = None, default_department_id: int | None = None
) -> list[DeviceCredential]:
    """Register many devices from CSV, all or nothing.

    Columns: key, name, device_type, model, lon, lat, department (code), expected_interval_s,
    datastreams = `metric|unit|min|max|observed property` items separated by `;`
    (e.g. `pm25|µg/m³|0|1000;no2|µg/m³|0|2000`). Errors name the row (1 = first data row) and column.
    `allowed_department_ids` (a department officer's scope; None = any) limits the owners a row
    may name; a row without one gets `default_department_id`.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("key", "name", "device_type") if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistrationError(f"CSV header lacks column(s): {', '.join(missing)}", row=0, column=missing[0])
    depts = dict(Department.objects.values_list("code", "id"))
    out = []
    with transaction.atomic():
        for n, rec in enumerate(reader, start=1):
            dept_code = (rec.get("department") or "").strip()
            if dept_code and dept_code not in depts:
                raise RegistrationError(
                    f"row {n}, column department: unknown department {dept_code!r}", row=n, column="department"
                )
            dept_id = depts.get(dept_code) if dept_code else default_department_id
            if allowed_department_ids is not None and dept_id not in allowed_department_ids:
                raise RegistrationError(
                    f"row {n}, column department: department {dept_code!r} is outside your scope",
                    row=n,
                    column="department",
                )
            interval_raw = (rec.get("expected_interval_s") or "").strip() or "60"
            if not interval_raw.isdigit():
                raise RegistrationError(
                    f"row {n}, column expected_interval_s: {interval_raw!r} is not a whole number",
                    row=n,
                    column="expected_interval_s",
                )
            try:
                cred = device_register(
                    key=(rec.get("key") or "").strip(),
                    name=(rec.get("name") or "").strip(),
                    device_type=(rec.get("device_type") or "").strip(),
                    model=(rec.get("model") or "").strip(),
                    lon=_opt_float(rec.get("lon"), row=n, column="lon"),
                    lat=_opt_float(rec.get("lat"), row=n, column="lat"),
                    owner_department_id=dept_id,
                    expected_interval_s=int(interval_raw),
                )
            except RegistrationError as exc:
                if exc.row is not None:
                    raise
                raise RegistrationError(f"row {n}, column {exc.column}: {exc}", row=n, column=exc.column) from None
            for spec in filter(None, (s.strip() for s in (rec.get("datastreams") or "").split(";"))):
                parts = [p.strip() for p in spec.split("|")] + [""] * 5
                if not parts[0]:
                    raise RegistrationError(
                        f"row {n}, column datastreams: empty metric in {spec!r}", row=n, column="datastreams"
                    )
                datastream_create(
                    device_id=cred.device_id,
                    metric=parts[0],
                    unit=parts[1],
                    valid_min=_opt_float(parts[2], row=n, column="datastreams"),
                    valid_max=_opt_float(parts[3], row=n, column="datastreams"),
                    observed_property=parts[4] or parts[0],
                )
            out.append(cred)
    return out
