"""The only module of the datahub that governance, industry and livelihood import.

Functions take keyword arguments and return plain data (frozen dataclasses, dicts, ids), never
model instances, so the apps do not depend on the datahub's ORM internals.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point

from .models import Area, Department, Entity, Source
from .selectors import events as events_selectors
from .selectors import gazetteer
from .services import entities as entities_service
from .services import events as events_service
from .services import runs as runs_service
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


def area_match_text(*, text: str) -> list[AreaInfo]:
    """Areas a text or address mentions, by Chinese or English name, longest match first.

    "江南区长安街道12号" -> [the street 长安街道 of 江南区]. Ambiguous names are resolved by the
    other places named in the text, else dropped; ancestors of a match are not repeated (use
    `area_ancestors`). In the order they appear in the text.
    """
    ids = gazetteer.match_area_ids(text)
    return [
        AreaInfo(id=a.id, code=a.code, name=a.name, name_en=a.name_en, level=a.level, parent_id=a.parent_id)
        for a in gazetteer.area_rows(ids)
    ]


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


def connector_register(*, name: str, path: str) -> None:
    """Make `Source.connector == name` run `path` (dotted; `fn(source_id=, run_id=) -> counts`)."""
    from . import connectors

    connectors.register(name, path)


# --- runs (lineage) --------------------------------------------------------------------------


def run_start(*, source_id: int, triggered_by_id: int | None = None) -> int:
    """Open a run of the source (status running); returns its id."""
    return runs_service.run_start(source_id=source_id, triggered_by_id=triggered_by_id)


def run_progress(
    *, run_id: int, progress: float | None = None, counts: dict | None = None, errors: list | None = None
) -> None:
    """Progress (0..1), counts so far ({"read", "stored", "rejected"}) and new errors of an open run."""
    runs_service.run_progress(run_id=run_id, progress=progress, counts=counts, errors=errors)


def run_finish(*, run_id: int, status: str, counts: dict | None = None, errors: list | None = None) -> bool:
    """Close a run (succeeded / partial / failed / cancelled); False if it was already closed."""
    return runs_service.run_finish(run_id=run_id, status=status, counts=counts, errors=errors)


# --- entities --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityInfo:
    id: int
    type: str
    name: str
    name_en: str
    area_id: int | None
    lon: float | None
    lat: float | None
    identifiers: dict
    attributes: dict
    merged_into_id: int | None


def entity_get(*, id: int) -> EntityInfo | None:  # noqa: A002
    e = Entity.objects.filter(id=id).prefetch_related("identifiers").first()
    if e is None:
        return None
    p = e.geometry.point_on_surface if e.geometry is not None and e.geometry.geom_type != "Point" else e.geometry
    return EntityInfo(
        id=e.id,
        type=e.type,
        name=e.name,
        name_en=e.name_en,
        area_id=e.area_id,
        lon=p.x if p else None,
        lat=p.y if p else None,
        identifiers={i.scheme: i.value for i in e.identifiers.all()},
        attributes=dict(e.attributes),
        merged_into_id=e.merged_into_id,
    )


def entity_resolve(
    *,
    type: str,  # noqa: A002
    name: str,
    name_en: str | None = None,
    identifiers: dict | None = None,
    lon: float | None = None,
    lat: float | None = None,
    attributes: dict | None = None,
    source_id: int | None = None,
) -> tuple[int, float, bool]:
    """(entity_id, confidence, created): by identifier (1.0), else normalised name and place, else new.

    Raises ValueError (EntityError) for bad input: unknown type, empty name, half a coordinate.
    """
    r = entities_service.entity_resolve(
        type=type,
        name=name,
        name_en=name_en,
        identifiers=identifiers,
        lon=lon,
        lat=lat,
        attributes=attributes,
        source_id=source_id,
    )
    return r.entity_id, r.confidence, r.created


def entity_resolve_many(*, rows: list[dict], source_id: int | None = None) -> list[tuple[int, float, bool]]:
    """`entity_resolve` for many rows (dicts of its arguments) in one transaction; all or nothing.

    Raises ValueError naming the row: "row 17: name is required".
    """
    return [
        (r.entity_id, r.confidence, r.created)
        for r in entities_service.entity_resolve_many(rows=rows, source_id=source_id)
    ]


def entity_merge(*, target_id: int, merged_id: int, actor_id: int | None = None, reason: str = "") -> int:
    """Fold one entity into another (identifiers, events and every link move); returns the event id."""
    return entities_service.entity_merge(target_id=target_id, merged_id=merged_id, actor_id=actor_id, reason=reason)


def entity_split(
    *, entity_id: int, identifier_ids: list[int] | None = None, actor_id: int | None = None, reason: str = ""
) -> int:
    """Undo a merge of `entity_id` (or split chosen identifiers off it); returns the event id."""
    return entities_service.entity_split(
        entity_id=entity_id, identifier_ids=identifier_ids, actor_id=actor_id, reason=reason
    )


def entity_page_section_register(
    *, key: str, title, template_name: str, context_function: str, order: int = 100
) -> None:
    """Add a section to every entity page; `context_function(entity_id=, user=) -> dict | None`."""
    from .entity_sections import EntitySection, register

    register(
        EntitySection(key=key, title=title, template_name=template_name, context_function=context_function, order=order)
    )


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
    return events_service.event_record(
        type=type,
        occurred_at=occurred_at,
        subject_id=subject_id,
        area_id=area_id,
        lon=lon,
        lat=lat,
        actor_id=actor_id,
        source_id=source_id,
        object_ref=object_ref,
        payload=payload,
    )


def event_count(
    *,
    type: str | None = None,
    area_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,  # noqa: A002
) -> int:
    """How many events of a type in an area (with its sub-areas) in [since, until)."""
    return events_selectors.event_count(type=type, area_id=area_id, since=since, until=until)


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

    rows is a list of (datastream_id, time, value) tuples, time in epoch seconds (resends that
    were ignored are not in it). Callbacks run after commit in the ingesting process (web, MQTT bridge, importer); they
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


def event_counts(
    *,
    bucket: str = "day",
    group: str = "area",
    types: list[str] | None = None,
    area_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    level: str | None = None,
) -> list[dict]:
    """Counts per time bucket (hour/day/week/month in the city's time zone) and per area and/or type.

    Rows are plain dicts: {"bucket": aware datetime, "area_id"?, "type"?, "count"}. With
    `level="district"` (and group "area") events on grids and streets count for their district.
    """
    return events_selectors.event_counts(
        bucket=bucket, group=group, types=types, area_id=area_id, since=since, until=until, level=level
    )


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
