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
from .services.iot_ingest import BATCH_LISTENERS as observations_batch_committed  # noqa: F401 - public hook list


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


# --- IoT: datastreams, latest values, committed ingest batches ------------------------------------


@dataclass(frozen=True)
class DatastreamInfo:
    id: int
    device_id: int
    device_key: str
    entity_id: int
    metric: str
    observed_property: str
    unit: str
    valid_min: float | None
    valid_max: float | None
    area_id: int | None


def datastream_get(
    *, id: int | None = None, device_key: str | None = None, metric: str | None = None
) -> DatastreamInfo | None:  # noqa: A002
    from .models import Datastream

    qs = Datastream.objects.select_related("device")
    ds = qs.filter(id=id).first() if id is not None else qs.filter(device__key=device_key, metric=metric).first()
    if ds is None:
        return None
    return DatastreamInfo(
        id=ds.id,
        device_id=ds.device_id,
        device_key=ds.device.key,
        entity_id=ds.device.entity_id,
        metric=ds.metric,
        observed_property=ds.observed_property,
        unit=ds.unit,
        valid_min=ds.valid_min,
        valid_max=ds.valid_max,
        area_id=ds.device.area_id,
    )


def latest_values(*, datastream_ids: list[int]) -> dict[int, tuple[datetime, float]]:
    """{datastream_id: (time, value)} of the newest reading of each (absent when none yet)."""
    from .selectors.iot import latest_values as _latest

    return _latest(datastream_ids=datastream_ids)


def _batch_listeners() -> list:
    return observations_batch_committed


def observations_batch_listen(callback) -> None:
    """Register `callback(rows)` to receive each committed ingest batch's newly stored readings.

    rows is a list of (datastream_id, time, value) tuples (resends that were ignored are not in
    it). Callbacks run after commit in the ingesting process (web, MQTT bridge, importer); they
    must be quick (queue a Celery task for heavy work) and an exception is logged, never raised.
    Register from AppConfig.ready().
    """
    listeners = _batch_listeners()
    if callback not in listeners:
        listeners.append(callback)


def observations_batch_unlisten(callback) -> None:
    listeners = _batch_listeners()
    if callback in listeners:
        listeners.remove(callback)
