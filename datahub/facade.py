"""The only module of the datahub that governance, industry and livelihood import.

Functions take keyword arguments and return plain data (frozen dataclasses, dicts, ids), never
model instances, so the apps do not depend on the datahub's ORM internals.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point
from django.utils import timezone

from cityos import bus

from .models import Area, Department, Event, Source


@dataclass(frozen=True)
class AreaInfo:
    id: int
    code: str
    name: str
    name_en: str
    level: str
    parent_id: int | None


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    code: str
    name: str
    name_en: str
    kind: str
    parent_id: int | None


def _area_info(a: Area) -> AreaInfo:
    return AreaInfo(id=a.id, code=a.code, name=a.name, name_en=a.name_en, level=a.level, parent_id=a.parent_id)


def _dept_info(d: Department) -> DepartmentInfo:
    return DepartmentInfo(id=d.id, code=d.code, name=d.name, name_en=d.name_en, kind=d.kind, parent_id=d.parent_id)


# --- areas -----------------------------------------------------------------------------------


def area_get(*, id: int | None = None, code: str | None = None) -> AreaInfo | None:  # noqa: A002
    qs = Area.objects.all()
    area = qs.filter(id=id).first() if id is not None else qs.filter(code=code).first()
    return _area_info(area) if area else None


def area_locate(*, lon: float, lat: float) -> dict[str, AreaInfo]:
    """Every area (by level) whose boundary contains the WGS84 point: {"district": …, "grid": …}."""
    point = Point(lon, lat, srid=4326)
    found = Area.objects.filter(geometry__contains=point).order_by("level")
    return {a.level: _area_info(a) for a in found}


def area_ancestors(*, area_id: int) -> list[AreaInfo]:
    """The area and its ancestors, from itself up to the root."""
    out, area = [], Area.objects.filter(id=area_id).first()
    while area is not None:
        out.append(_area_info(area))
        area = area.parent
    return out


def area_list(*, level: str | None = None, parent_id: int | None = None) -> list[AreaInfo]:
    qs = Area.objects.order_by("code")
    if level:
        qs = qs.filter(level=level)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    return [_area_info(a) for a in qs]


# --- departments -----------------------------------------------------------------------------


def department_get(*, id: int | None = None, code: str | None = None) -> DepartmentInfo | None:  # noqa: A002
    qs = Department.objects.all()
    dept = qs.filter(id=id).first() if id is not None else qs.filter(code=code).first()
    return _dept_info(dept) if dept else None


def department_subtree_ids(*, department_id: int) -> set[int]:
    root = Department.objects.filter(id=department_id).only("path").first()
    if root is None:
        return set()
    return set(Department.objects.filter(path__startswith=root.path).values_list("id", flat=True))


# --- sources ---------------------------------------------------------------------------------


def source_ensure(
    *, code: str, name: str, kind: str, connector: str = "", owner_department_id: int | None = None
) -> int:
    """Register (once) the source an app's data comes from; returns its id."""
    src, _ = Source.objects.get_or_create(
        code=code,
        defaults={"name": name, "kind": kind, "connector": connector, "owner_department_id": owner_department_id},
    )
    return src.id


# --- events: the feedback loop -----------------------------------------------------------------


def event_record(
    *,
    type: str,  # noqa: A002 - the event's type, as in the model
    occurred_at: datetime | None = None,
    subject_id: int | None = None,
    area_id: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
    actor_id: int | None = None,
    source_id: int | None = None,
    object_ref: str = "",
    payload: dict | None = None,
) -> int:
    """Append an event to the datahub's log and publish it as `datahub.event_recorded` after commit.

    Returns the event's id. Apps call this for everything they do that is worth analysing
    (case created, alert raised, rating given, service used).
    """
    if not type:
        raise ValueError("event type is required")
    event = Event.objects.create(
        type=type,
        occurred_at=occurred_at or timezone.now(),
        subject_id=subject_id,
        area_id=area_id,
        location=Point(lon, lat, srid=4326) if lon is not None and lat is not None else None,
        actor_id=actor_id,
        source_id=source_id,
        object_ref=object_ref,
        payload=payload or {},
    )
    bus.publish(
        "datahub.event_recorded",
        {"event_id": event.id, "type": type, "area_id": area_id, "occurred_at": event.occurred_at.isoformat()},
    )
    return event.id


def area_geometries(*, level: str, parent_id: int | None = None, simplify: float = 0.0005) -> list[dict]:
    """Boundaries of the areas of one level as GeoJSON geometry dicts (simplified by `simplify`
    degrees, ~50 m, to keep maps light): [{"id", "code", "name", "name_en", "level", "geometry"}]."""
    import json

    qs = Area.objects.filter(level=level, geometry__isnull=False).order_by("code")
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    out = []
    for a in qs.only("id", "code", "name", "name_en", "level", "geometry"):
        geom = a.geometry.simplify(simplify, preserve_topology=True) if simplify else a.geometry
        out.append(
            {
                "id": a.id,
                "code": a.code,
                "name": a.name,
                "name_en": a.name_en,
                "level": a.level,
                "geometry": json.loads(geom.geojson),
            }
        )
    return out


def department_list(*, active_only: bool = True) -> list[DepartmentInfo]:
    """Every department in tree order (for choosers)."""
    qs = Department.objects.order_by("path")
    if active_only:
        qs = qs.filter(is_active=True)
    return [_dept_info(d) for d in qs]
