"""Writes to the enterprise registry: register, update, tag, licence. Each one writes, records
history, records a datahub event (feedback) and publishes its domain event after commit."""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.gis.geos import Point
from django.db import transaction

from cityos import bus
from datahub import facade
from industry.models import Enterprise, EnterpriseHistory, IndustryCode, Licence, Park, Tag

from .common import address_norm, name_norm, record_event, uscc_clean
from .errors import IndustryError

_UPDATABLE = {
    "name",
    "name_en",
    "legal_representative",
    "registered_capital",
    "founded_on",
    "status",
    "industry_code",
    "size",
    "address",
    "lon",
    "lat",
    "department_id",
    "land_mu",
    "tags",
}


def industry_get(code: str | None, *, field: str = "industry_code") -> IndustryCode | None:
    if not code:
        return None
    ic = IndustryCode.objects.filter(code=str(code).strip().upper()).first()
    if ic is None:
        raise IndustryError(f"{field}: unknown GB/T 4754-2017 code {code!r}", extra={"field": field})
    return ic


def _point(lon, lat) -> Point | None:
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        raise IndustryError("lon/lat: give both or neither", extra={"field": "lon" if lon is None else "lat"})
    lon, lat = float(lon), float(lat)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise IndustryError("lon/lat: not a WGS84 longitude/latitude", extra={"field": "lon"})
    return Point(lon, lat, srid=4326)


def park_containing(point: Point | None) -> int | None:
    if point is None:
        return None
    # covers, not contains: an enterprise on the park's boundary line is in the park.
    return Park.objects.filter(boundary__covers=point).order_by("id").values_list("id", flat=True).first()


def _locate(address: str, point: Point | None) -> tuple[Point | None, int | None, str, str]:
    """(point, area_id, located, reason): by coordinates when given, else the address through the gazetteer."""
    if point is not None:
        area_id = facade.area_locate_many(points=[(point.x, point.y)])[0]
        return point, area_id, Enterprise.Located.POINT, "" if area_id else "point outside every mapped area"
    if not address:
        return None, None, Enterprise.Located.NONE, "no address"
    geo = facade.address_geocode(address=address)
    if geo is None:
        return None, None, Enterprise.Located.NONE, "address names no known area"
    p = Point(geo["lon"], geo["lat"], srid=4326) if geo["lon"] is not None else None
    return p, geo["area_id"], Enterprise.Located.ADDRESS, ""


def enterprise_register(
    *,
    name: str,
    uscc: str,
    actor=None,
    name_en: str = "",
    legal_representative: str = "",
    registered_capital: Decimal | None = None,
    founded_on: date | None = None,
    status: str = Enterprise.Status.ACTIVE,
    industry_code: str = "",
    size: str = "",
    address: str = "",
    lon: float | None = None,
    lat: float | None = None,
    department_id: int | None = None,
    tags: list[str] | None = None,
    licences: list[dict] | None = None,
    land_mu: Decimal | None = None,
) -> Enterprise:
    """Register one enterprise. 400 naming the field on bad input; 409 (with `existing_id`) when the
    USCC is already registered."""
    name = (name or "").strip()
    if not name:
        raise IndustryError("name: required", extra={"field": "name"})
    code = uscc_clean(uscc)
    existing = Enterprise.objects.filter(uscc=code).values_list("id", flat=True).first()
    if existing:
        raise IndustryError(
            f"uscc: {code} is already registered (enterprise {existing})",
            code="duplicate_uscc",
            status=409,
            extra={"field": "uscc", "existing_id": existing},
        )
    industry = industry_get(industry_code)
    tag_objs = _tags(tags)
    point = _point(lon, lat)
    with transaction.atomic():
        point, area_id, located, reason = _locate(address, point)
        entity_id, _conf, _created = facade.entity_resolve(
            type="enterprise",
            name=name,
            name_en=name_en or None,
            identifiers={"uscc": code},
            lon=point.x if point else None,
            lat=point.y if point else None,
        )
        taken = Enterprise.objects.filter(entity_id=entity_id).values_list("id", flat=True).first()
        if taken:  # the same entity under another (or no) USCC: one record per entity
            raise IndustryError(
                f"uscc: this enterprise is already registered as enterprise {taken}",
                code="duplicate_enterprise",
                status=409,
                extra={"field": "uscc", "existing_id": taken},
            )
        ent = Enterprise.objects.create(
            entity_id=entity_id,
            name=name[:300],
            name_en=(name_en or "")[:300],
            name_norm=name_norm(name),
            uscc=code,
            legal_representative=legal_representative,
            registered_capital=registered_capital,
            founded_on=founded_on,
            status=status,
            industry=industry,
            industry_code=industry.code if industry else "",
            section_code=_section(industry),
            size=size,
            address=address,
            address_norm=address_norm(address),
            location=point,
            area_id=area_id,
            park_id=park_containing(point),
            located=located,
            locate_reason=reason,
            department_id=department_id,
            land_mu=land_mu,
            source="api",
        )
        if tag_objs:
            ent.tags.set(tag_objs)
        for lic in licences or []:
            Licence.objects.create(enterprise=ent, **lic)
        EnterpriseHistory.objects.create(
            enterprise=ent, action="registered", actor=_user(actor), changes={"uscc": code}
        )
        record_event(type="industry.enterprise_registered", enterprise=ent, actor=actor, payload={"uscc": code})
        bus.publish("industry.enterprise_changed", {"enterprise_id": ent.id, "action": "registered"})
        _queue_rematch(enterprise_ids=[ent.id])
    return ent


def enterprise_update(*, enterprise_id: int, actor=None, **fields) -> Enterprise:
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise IndustryError(f"{sorted(unknown)[0]}: cannot be changed here", extra={"field": sorted(unknown)[0]})
    with transaction.atomic():
        ent = Enterprise.objects.select_for_update().get(id=enterprise_id)
        changes = {}
        if "industry_code" in fields:
            ic = industry_get(fields.pop("industry_code"))
            ent.industry, ent.industry_code, ent.section_code = ic, ic.code if ic else "", _section(ic)
            changes["industry_code"] = ent.industry_code
        if "tags" in fields:
            ent.tags.set(_tags(fields.pop("tags")))
            changes["tags"] = sorted(ent.tags.values_list("code", flat=True))
        relocate = "address" in fields or "lon" in fields or "lat" in fields
        lon, lat = fields.pop("lon", None), fields.pop("lat", None)
        for key, value in fields.items():
            if key == "name":
                value = (value or "").strip()
                if not value:
                    raise IndustryError("name: required", extra={"field": "name"})
                ent.name_norm = name_norm(value)
            if key == "address":
                ent.address_norm = address_norm(value)
            setattr(ent, key, value)
            changes[key] = str(value)
        if relocate:
            point, ent.area_id, ent.located, ent.locate_reason = _locate(ent.address, _point(lon, lat))
            ent.location, ent.park_id = point, park_containing(point)
        ent.save()
        entity_fields = {"name": ent.name, "name_en": ent.name_en, "area_id": ent.area_id}
        if ent.location is not None:
            entity_fields.update(lon=ent.location.x, lat=ent.location.y)
        facade.entity_update(entity_id=ent.entity_id, **entity_fields)
        EnterpriseHistory.objects.create(enterprise=ent, action="updated", actor=_user(actor), changes=changes)
        record_event(type="industry.enterprise_updated", enterprise=ent, actor=actor, payload={"changes": changes})
        bus.publish("industry.enterprise_changed", {"enterprise_id": ent.id, "action": "updated"})
        _queue_rematch(enterprise_ids=[ent.id])
    return ent


def licence_add(*, enterprise_id: int, type: str, number: str = "", valid_from=None, valid_to=None, actor=None):  # noqa: A002
    if not (type or "").strip():
        raise IndustryError("type: required", extra={"field": "type"})
    if valid_from and valid_to and valid_to < valid_from:
        raise IndustryError("valid_to: before valid_from", extra={"field": "valid_to"})
    with transaction.atomic():
        ent = Enterprise.objects.get(id=enterprise_id)
        lic = Licence.objects.create(
            enterprise=ent, type=type.strip(), number=number, valid_from=valid_from, valid_to=valid_to
        )
        EnterpriseHistory.objects.create(
            enterprise=ent, action="licence_added", actor=_user(actor), changes={"type": lic.type, "number": number}
        )
        record_event(type="industry.licence_added", enterprise=ent, actor=actor, payload={"licence_id": lic.id})
        _queue_rematch(enterprise_ids=[ent.id])
    return lic


def member_add(*, enterprise_id: int, user) -> None:
    """Let a user (role enterprise_user) act for the enterprise."""
    from cityos.roles import Role
    from industry.models import EnterpriseMember

    if user.role != Role.ENTERPRISE_USER:
        raise IndustryError("user: must have the enterprise user role", extra={"field": "user"})
    EnterpriseMember.objects.get_or_create(enterprise_id=enterprise_id, user=user)


def _tags(codes) -> list[Tag]:
    if not codes:
        return []
    codes = [str(c).strip() for c in codes if str(c).strip()]
    found = {t.code: t for t in Tag.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise IndustryError(f"tags: unknown tag {missing[0]!r}", extra={"field": "tags"})
    return list(found.values())


def _section(ic: IndustryCode | None) -> str:
    if ic is None:
        return ""
    if ic.level == IndustryCode.Level.SECTION:
        return ic.code
    return IndustryCode.objects.filter(id=ic.parent_id).values_list("code", flat=True).first() or ""


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def decimal_or_none(value, *, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        d = Decimal(str(value).replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(f"{field}: {value!r} is not a number") from exc
    if not d.is_finite() or abs(d) >= Decimal("1e11"):
        raise ValueError(f"{field}: {value!r} is out of range")
    return d


def _queue_rematch(*, enterprise_ids=None, policy_ids=None) -> None:
    from industry.tasks import queue_rematch

    queue_rematch(enterprise_ids=enterprise_ids, policy_ids=policy_ids)
