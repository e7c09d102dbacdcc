"""Device and datastream registration, credentials, bulk registration from CSV."""

import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import transaction

from datahub.models import Area, Datastream, Department, Device, Entity, EntityIdentifier

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


def _locate(lon: float, lat: float) -> Area | None:
    from datahub import facade

    found = facade.area_locate(lon=lon, lat=lat)
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
        )
    return DeviceCredential(device_id=device.id, key=key, secret=secret)


def device_credential_rotate(*, device_id: int) -> DeviceCredential:
    device = Device.objects.get(id=device_id)
    secret = secrets.token_urlsafe(32)
    Device.objects.filter(id=device_id).update(credential_hash=_hash(secret))
    return DeviceCredential(device_id=device.id, key=device.key, secret=secret)


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
