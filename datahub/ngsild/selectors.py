"""Reads for the NGSI-LD API: the datahub's registry shown as NGSI-LD entities.

Which datahub objects are NGSI-LD entities, and their ids:
- devices:   `urn:ngsi-ld:Device:<device key>` (Smart Data Models `Device`), with one Property per
             datastream holding its latest reading (`observedAt`, `unitCode`); their history is
             the temporal API's (observations);
- areas:     `urn:ngsi-ld:AdministrativeArea:<area code>`;
- the other registry entities (facilities, enterprises, parks, roads, buildings…):
             `urn:ngsi-ld:<Type>:<pk>`, Type from TYPE_OF (Smart Data Models names where one fits);
- entities created through this API keep the id their client gave (an `ngsi-ld` identifier).
Devices and areas are read-only here: devices are registered through the IoT API (they need
broker credentials), areas through the area import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import GEOSGeometry, Point
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from cityos.roles import STAFF_ROLES, Role
from datahub.iot.selectors import devices_visible_to, latest_values
from datahub.models import Area, Datastream, Device, Entity, EntityIdentifier

SCHEME = "ngsi-ld"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
# datahub entity type -> NGSI-LD type (Smart Data Models where one fits).
TYPE_OF = {
    Entity.Type.DEVICE: "Device",
    Entity.Type.FACILITY: "PointOfInterest",
    Entity.Type.ENTERPRISE: "Organization",
    Entity.Type.PARK: "Park",
    Entity.Type.ROAD: "Road",
    Entity.Type.BUILDING: "Building",
    Entity.Type.DISTRICT: "District",
    Entity.Type.PERSON_GROUP: "PersonGroup",
}
DATAHUB_TYPE = {v: k for k, v in TYPE_OF.items()}
AREA_TYPE = "AdministrativeArea"
ATTR_TYPES = ("Property", "GeoProperty", "Relationship", "LanguageProperty")
_URN = re.compile(r"^urn:ngsi-ld:([A-Za-z0-9_.-]+):(.+)$")


class NgsiError(Exception):
    """An NGSI-LD problem (§6.3.2): `kind` is the error type's last segment, `status` the HTTP status."""

    def __init__(self, kind: str, detail: str, status: int = 400):
        super().__init__(detail)
        self.kind, self.detail, self.status = kind, detail, status


def bad(detail: str) -> NgsiError:
    return NgsiError("BadRequestData", detail, 400)


def parse_when(raw) -> datetime | None:
    """An ISO 8601 date-time with a time zone between 1900 and 2200, or None (impossible dates too)."""
    try:
        at = parse_datetime(str(raw))
    except ValueError:
        return None
    if at is None or at.tzinfo is None or not 1900 <= at.year <= 2200:
        return None
    return at


def not_found(eid: str) -> NgsiError:
    return NgsiError("ResourceNotFound", f"{eid}: no such entity", 404)


# --- who sees what --------------------------------------------------------------------------------


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in STAFF_ROLES))


def can_write(user) -> bool:
    return bool(
        user
        and user.is_authenticated
        and (user.is_superuser or user.role in (Role.ADMINISTRATOR, Role.DEPARTMENT_OFFICER))
    )


def entities_visible_to(user) -> QuerySet[Entity]:
    """Registry entities a user may read here: every non-device entity for signed-in users;
    devices only as the IoT scoping allows (external developers see none)."""
    qs = Entity.objects.filter(merged_into__isnull=True).select_related("area", "device")
    if not is_staff(user):
        return qs.exclude(type=Entity.Type.DEVICE)
    devices = devices_visible_to(user).values("entity_id")
    return qs.filter(~Q(type=Entity.Type.DEVICE) | Q(id__in=devices))


# --- ids ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    entity: Entity | None = None
    area: Area | None = None


def entity_id(entity: Entity) -> str:
    given = (entity.attributes or {}).get("ngsi_id")
    if given:
        return given
    if entity.type == Entity.Type.DEVICE and hasattr(entity, "device"):
        return f"urn:ngsi-ld:Device:{entity.device.key}"
    return f"urn:ngsi-ld:{ngsi_type(entity)}:{entity.pk}"


def ngsi_type(entity: Entity) -> str:
    return (entity.attributes or {}).get("ngsi_type") or TYPE_OF.get(entity.type, "Thing")


def resolve(eid: str, user) -> Ref:
    """The object behind an NGSI-LD id, if this user may read it; ResourceNotFound otherwise."""
    if not isinstance(eid, str) or ":" not in eid or len(eid) > 255:
        raise bad(f"{eid!r} is not a valid entity id (a URI such as urn:ngsi-ld:Type:local-id)")
    found = _by_given_id(eid)
    if found is not None and found.type != Entity.Type.DEVICE:
        return Ref(entity=found)
    visible = entities_visible_to(user)
    if found is not None:
        found = visible.filter(pk=found.pk).first()
        if found:
            return Ref(entity=found)
    m = _URN.match(eid)
    if m:
        kind, local = m.groups()
        if kind == AREA_TYPE:
            area = Area.objects.filter(code=local).first()
            if area:
                return Ref(area=area)
        elif kind == "Device":
            found = visible.filter(type=Entity.Type.DEVICE, device__key=local).first()
        elif local.isdigit() and kind in DATAHUB_TYPE:
            found = visible.filter(pk=int(local), type=DATAHUB_TYPE[kind]).first()
        if found and entity_id(found) == eid:
            return Ref(entity=found)
    raise not_found(eid)


# The hot path of retrieval by id (an id a client gave): one plain query, no ORM query building
# (building the visible-entities query cost more than running it). Entities with a client's id
# are never devices (devices are registered through the IoT API), so every signed-in reader
# sees them; a device found here goes through the full visibility rule above.
_BY_GIVEN_ID = (
    "SELECT e.* FROM datahub_entity e JOIN datahub_entityidentifier i ON i.entity_id = e.id "
    "WHERE i.scheme = %s AND i.value = %s AND e.merged_into_id IS NULL LIMIT 1"
)


def _by_given_id(eid: str) -> Entity | None:
    for entity in Entity.objects.raw(_BY_GIVEN_ID, [SCHEME, eid]):
        return entity
    return None


def id_taken(eid: str) -> bool:
    if EntityIdentifier.objects.filter(scheme=SCHEME, value=eid).exists():
        return True
    try:
        resolve(eid, _Everyone())
    except NgsiError:
        return False
    return True


class _Everyone:
    """A reader who sees everything (for uniqueness checks, never for answers)."""

    is_authenticated = True
    is_superuser = True
    is_city_wide = True
    role = Role.ADMINISTRATOR
    department_id = None


# --- representation ------------------------------------------------------------------------------


def _geo(geometry) -> dict | None:
    return json.loads(geometry.geojson) if geometry is not None else None


def geometry_from(value) -> GEOSGeometry:
    """A GeoProperty's GeoJSON value as a geometry (WGS84); BadRequestData when it is not GeoJSON."""
    if not isinstance(value, dict) or "type" not in value or "coordinates" not in value:
        raise bad("location: a GeoProperty's value must be a GeoJSON geometry")
    coords = value["coordinates"]
    if (
        value["type"] == "Point"
        and isinstance(coords, list)
        and len(coords) in (2, 3)
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
    ):
        # Points directly (most GeoProperties are points): parsing GeoJSON through GDAL cost ~1.5 ms.
        x, y = coords[0], coords[1]
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise bad("location: coordinates out of range (longitude -180..180, latitude -90..90)")
        return Point(x, y, srid=4326)
    try:
        geom = GEOSGeometry(json.dumps(value), srid=4326)
    except (ValueError, TypeError) as e:
        raise bad(f"location: not a valid GeoJSON geometry ({e})") from None
    if not geom.valid and geom.geom_type != "Point":
        raise bad(f"location: invalid geometry ({geom.valid_reason})")
    x0, y0, x1, y1 = geom.extent
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise bad("location: coordinates out of range (longitude -180..180, latitude -90..90)")
    return geom


def entity_attrs(entity: Entity, *, latest: dict | None = None) -> dict:
    """The entity's attributes in normalized form (without id/type)."""
    attrs: dict = {}
    stored = (entity.attributes or {}).get("ngsi")
    if stored is not None:  # created through this API: kept as given
        attrs.update(stored)
    else:
        attrs["name"] = {"type": "Property", "value": entity.name}
        if entity.name_en:
            attrs["nameEn"] = {"type": "Property", "value": entity.name_en}
        for key, value in (entity.attributes or {}).items():
            if not key.startswith("ngsi") and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                attrs[key] = {"type": "Property", "value": value}
    geometry = entity.geometry
    device = getattr(entity, "device", None) if entity.type == Entity.Type.DEVICE else None
    if device is not None:
        geometry = device.point or geometry
        attrs["deviceCategory"] = {"type": "Property", "value": [device.device_type]}
        attrs["deviceState"] = {"type": "Property", "value": "active" if device.is_active else "inactive"}
        if device.last_seen_at:
            attrs["dateLastValueReported"] = {
                "type": "Property",
                "value": {"@type": "DateTime", "@value": device.last_seen_at.isoformat()},
            }
        streams = list(device.datastreams.all())
        attrs["controlledProperty"] = {"type": "Property", "value": sorted(s.metric for s in streams)}
        values = latest if latest is not None else latest_values(datastream_ids=[s.id for s in streams])
        for s in streams:
            if s.id in values:
                at, value = values[s.id]
                prop = {"type": "Property", "value": value, "observedAt": at.isoformat().replace("+00:00", "Z")}
                if s.unit:
                    prop["unitCode"] = s.unit
                attrs[s.metric] = prop
    if geometry is not None and "location" not in attrs:
        attrs["location"] = {"type": "GeoProperty", "value": _geo(geometry)}
    if entity.area_id and "refArea" not in attrs:
        attrs["refArea"] = {"type": "Relationship", "object": f"urn:ngsi-ld:{AREA_TYPE}:{entity.area.code}"}
    return attrs


def area_attrs(area: Area) -> dict:
    attrs = {
        "name": {"type": "Property", "value": area.name},
        "level": {"type": "Property", "value": area.level},
        "code": {"type": "Property", "value": area.code},
    }
    if area.name_en:
        attrs["nameEn"] = {"type": "Property", "value": area.name_en}
    if area.population is not None:
        attrs["population"] = {"type": "Property", "value": area.population}
    if area.geometry is not None:
        attrs["location"] = {"type": "GeoProperty", "value": _geo(area.geometry)}
    if area.parent_id:
        attrs["refParent"] = {"type": "Relationship", "object": f"urn:ngsi-ld:{AREA_TYPE}:{area.parent.code}"}
    return attrs


def render(
    ref: Ref,
    *,
    attrs: list[str] | None = None,
    key_values: bool = False,
    sys_attrs: bool = False,
    latest=None,
) -> dict:
    if ref.area is not None:
        eid, etype, data = f"urn:ngsi-ld:{AREA_TYPE}:{ref.area.code}", AREA_TYPE, area_attrs(ref.area)
        created = modified = None
    else:
        e = ref.entity
        eid, etype, data = entity_id(e), ngsi_type(e), entity_attrs(e, latest=latest)
        created, modified = e.created_at, e.updated_at
    if attrs:
        data = {k: v for k, v in data.items() if k in attrs}
    out: dict = {"id": eid, "type": etype}
    if sys_attrs and created:
        out["createdAt"] = created.isoformat().replace("+00:00", "Z")
        out["modifiedAt"] = modified.isoformat().replace("+00:00", "Z")
    for name, attr in data.items():
        if key_values:
            if isinstance(attr, dict):
                out[name] = attr.get("object") if attr.get("type") == "Relationship" else attr.get("value")
            else:
                out[name] = attr
        else:
            out[name] = attr
    return out


def latest_for(entities: list[Entity]) -> dict:
    """Latest readings of every device among `entities`, in one query (lists stay at a fixed cost)."""
    ids = list(
        Datastream.objects.filter(device__entity__in=[e for e in entities if e.type == Entity.Type.DEVICE]).values_list(
            "id", flat=True
        )
    )
    return latest_values(datastream_ids=ids) if ids else {}


def device_of(ref: Ref) -> Device | None:
    if ref.entity is not None and ref.entity.type == Entity.Type.DEVICE:
        return getattr(ref.entity, "device", None)
    return None
