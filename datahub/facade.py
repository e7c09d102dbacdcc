"""The only module of the datahub that governance, industry and livelihood import.

Functions take keyword arguments and return plain data (frozen dataclasses, dicts, ids), never
model instances, so the apps do not depend on the datahub's ORM internals.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point

from datahub.core.selectors import events as events_selectors
from datahub.core.selectors.areas import AreaInfo, _area_info, area_ancestors, area_locate, area_match_text  # noqa: F401
from datahub.core.services import entities as entities_service
from datahub.core.services import events as events_service
from datahub.core.services import runs as runs_service
from datahub.iot.services.ingest import BATCH_LISTENERS as observations_batch_committed

from .models import Area, Department, Entity, Source


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    code: str
    name: str
    name_en: str
    kind: str
    parent_id: int | None


def _dept_info(d: Department) -> DepartmentInfo:
    return DepartmentInfo(id=d.id, code=d.code, name=d.name, name_en=d.name_en, kind=d.kind, parent_id=d.parent_id)


# --- areas -----------------------------------------------------------------------------------


def area_get(*, id: int | None = None, code: str | None = None) -> AreaInfo | None:  # noqa: A002
    qs = Area.objects.all()
    area = qs.filter(id=id).first() if id is not None else qs.filter(code=code).first()
    return _area_info(area) if area else None


def area_list(*, level: str | None = None, parent_id: int | None = None) -> list[AreaInfo]:
    # Only AreaInfo's fields: the boundaries are large (the portal's area list read ~250 of them per page).
    qs = Area.objects.only("id", "code", "name", "name_en", "level", "parent_id").order_by("code")
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


def connector_register(*, name: str, path: str) -> None:
    """Make `Source.connector == name` run `path` (dotted; `fn(source_id=, run_id=) -> counts`)."""
    from datahub.core import connectors

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
    department_id: int | None = None,
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
        department_id=department_id,
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


def latest_values(*, datastream_ids: list[int]) -> dict[int, tuple[datetime, float]]:
    """{datastream_id: (time, value)} of the newest reading of each (absent when none yet)."""
    from datahub.iot.selectors import latest_values as _latest

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


def alert_case_categories_register(provider) -> None:
    """Register `provider() -> [(code, label), …]`: the case categories an alert rule may name
    (its `case_category`). The app that turns alerts into cases calls this from ready(); the
    `monitoring.alert_raised` payload then carries the rule's `category_code`."""
    from datahub.monitoring.services.cases import case_categories_register

    case_categories_register(provider)


def origin_case_closed(payload: dict) -> None:
    """Bus handler the app that handles cases subscribes to its "case closed" event: payload
    {"case_id", "tracking_number", "origin": {"kind", "id"}, ...}. A case whose structured origin is a
    datahub alert links (and, if the rule says so, clears) that alert; other origins are ignored."""
    from datahub.monitoring.services.cases import on_case_closed

    on_case_closed(payload)


# --- search: every app feeds the one index ----------------------------------------------------


def search_index_upsert(items: list[dict]) -> int:
    """Add or replace searchable items (by kind and key), written after the caller's commit.

    Each item: {"kind", "key", "title", "title_en"="", "body"="", "body_en"="", "identifiers"=""
    (codes: tracking number, USCC…), "url", "time" (aware datetime|None), "area_id", "lon", "lat",
    "department_id", "level": "public"|"internal"|"restricted", "facets": {str: str} (category,
    status, type, state "open"/"done", due as UTC ISO), optional "grants": [access tokens]}.
    No personal data (names, phones of citizens) in any text. One COPY per call, not row by row.
    Raises ValueError naming the item and field. Returns the number of items accepted.
    """
    from .search import services as search_services

    return search_services.search_index_upsert(items)


def search_index_remove(kind: str, keys: list[str]) -> None:
    """Remove items of a kind by key, after the caller's transaction commits."""
    from .search import services as search_services

    search_services.search_index_remove(kind=kind, keys=list(keys))


def search_provider_register(
    kind: str, provider, label: str = "", label_en: str = "", facet_labels=None, *, model=None, items=None
) -> None:
    """`provider()` yields every item of the kind (for `manage.py search_reindex [kind]`).

    `facet_labels()` (optional) returns {"category": {code: {"label", "label_en", "words": [...]}}}:
    the labels shown for facet values, and the words that make a query mean that value (噪音 → noise).
    `model` and `items(ids) -> items` (optional, together): the kind's items are keyed by that
    model's primary key, and after a save or delete of its rows commits, `items(ids)` gives their
    current items (none for a row no longer searchable: a draft, a withdrawn policy), which are
    upserted and the other keys removed: the index stays fresh without the app pushing.
    Register from AppConfig.ready().
    """
    from .search import services as search_services

    search_services.provider_register(
        kind=kind, provider=provider, label=label, label_en=label_en, facet_labels=facet_labels
    )
    if model is not None and items is not None:
        from .search import providers as search_providers

        search_providers.track_register(model=model, kind=kind, items=items)


def search_access_register(function) -> None:
    """`function(user) -> list[str]`: extra access tokens of a user, matched against items' "grants"
    (governance: dispatchers get "kind:case", grid workers "grid:<id>"). Register from ready()."""
    from .search import services as search_services

    search_services.access_register(function)


# --- for the industry wing (enterprise registry, 一企一档 profile, risk) ---------------------------
# Plain data in and out; set-based where the registry works on thousands of enterprises at once.


def entity_resolve_bulk(*, type: str, rows: list[dict], source_id: int | None = None) -> list[tuple[int, bool]]:  # noqa: A002
    """Resolve thousands of rows at once (identifier first, then normalised name + area, else new):
    [(entity_id, created)] in row order, all or nothing. Rows: {"name", "name_en", "identifiers",
    "lon", "lat", "area_id", "attributes"}. Raises ValueError naming the row."""
    from datahub.core.services.entities_bulk import entity_resolve_bulk as _bulk

    return _bulk(type=type, rows=rows, source_id=source_id)


def entity_update(*, entity_id: int, **fields) -> None:
    """Change an entity's name/name_en/attributes/area_id/department_id, or its point (lon=, lat=)."""
    lon, lat = fields.pop("lon", None), fields.pop("lat", None)
    if lon is not None and lat is not None:
        fields["geometry"] = Point(float(lon), float(lat), srid=4326)
    entities_service.entity_update(entity_id=entity_id, **fields)


# --- livelihood wing: facilities in the entity registry, point location, bulk events ----------------


def facility_entities_upsert(*, rows: list[dict], scheme: str, source_id: int | None = None) -> dict[str, int]:
    """Bulk upsert of facility entities keyed by one identifier scheme; returns {identifier value: entity id}.

    rows: [{"key": "lr-school:0042", "name", "name_en", "lon", "lat", "attributes", "type"?}] (type defaults
    to "facility"). An existing entity (same scheme and value) gets its name, point and attributes
    updated; the others are created with their identifier. Set-based: two statements per 5,000 rows
    instead of `entity_resolve`'s ~400 rows/s, so a 200-row file or a 300-facility demo takes milliseconds.
    """
    from django.db import transaction

    from datahub.core.normalize import normalize_name

    from .models import EntityIdentifier

    if not rows:
        return {}
    out: dict[str, int] = {}
    with transaction.atomic():
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            keys = [str(r["key"]) for r in chunk]
            existing = dict(
                EntityIdentifier.objects.filter(scheme=scheme, value__in=keys).values_list("value", "entity_id")
            )
            to_update, to_create = [], []
            by_id = Entity.objects.in_bulk(list(existing.values()))
            for r in chunk:
                point = Point(r["lon"], r["lat"], srid=4326) if r.get("lon") is not None else None
                name = (r.get("name") or "").strip()[:300] or str(r["key"])
                ent = by_id.get(existing.get(str(r["key"])))
                if ent is None:
                    ent = Entity(type=r.get("type") or Entity.Type.FACILITY, attributes={})
                    to_create.append((str(r["key"]), ent))
                else:
                    to_update.append(ent)
                ent.name, ent.normalized_name = name, normalize_name(name)[:300]
                ent.name_en = (r.get("name_en") or "")[:300]
                ent.geometry = point
                ent.attributes = {**(ent.attributes or {}), **(r.get("attributes") or {})}
                if r.get("area_id"):
                    ent.area_id = r["area_id"]
            if to_update:
                Entity.objects.bulk_update(
                    to_update, ["name", "normalized_name", "name_en", "geometry", "attributes", "area_id"]
                )
            if to_create:
                Entity.objects.bulk_create([e for _k, e in to_create])
                EntityIdentifier.objects.bulk_create(
                    [EntityIdentifier(entity=e, scheme=scheme, value=k, source_id=source_id) for k, e in to_create]
                )
            out.update(existing)
            out.update({k: e.id for k, e in to_create})
    return out


def area_locate_many(*, points: list[tuple[float, float]], level: str | None = None) -> list[int | None]:
    """For each (lon, lat) the id of the deepest area containing it (or of the given level); None outside.

    One query for the lot (a LATERAL point-in-polygon join on the areas' spatial index)."""
    from django.db import connection

    if not points:
        return []
    order = ["grid", "community", "street", "district", "city", "province", "other"]
    rank = "CASE a.level " + " ".join(f"WHEN '{lv}' THEN {i}" for i, lv in enumerate(order)) + " ELSE 99 END"
    level_sql = "AND a.level = %s" if level else ""
    sql = f"""
        SELECT p.i, (SELECT a.id FROM datahub_area a
                     WHERE a.geometry IS NOT NULL {level_sql}
                       AND ST_Contains(a.geometry, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
                     ORDER BY {rank} LIMIT 1)
        FROM unnest(%s::int[], %s::float8[], %s::float8[]) AS p(i, lon, lat)
    """  # noqa: S608 - only constants are formatted in
    params = ([level] if level else []) + [
        list(range(len(points))),
        [float(p[0]) for p in points],
        [float(p[1]) for p in points],
    ]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        found = dict(cur.fetchall())
    return [found.get(i) for i in range(len(points))]


def event_insert_sql() -> str:
    """For an app whose change and its event must be one statement (a booking: one round trip and
    its commit instead of three): the head of an INSERT into the event log, to be followed by the
    caller's `SELECT type, occurred_at, area_id, actor_id, object_ref, payload FROM …` (payload
    jsonb) and `RETURNING id`, e.g. as a CTE of the caller's statement. Afterwards the caller calls
    `event_recorded_publish` with what it wrote, as `event_record` would have done."""
    from .models import Event

    return (
        f"INSERT INTO {Event._meta.db_table} (type, occurred_at, recorded_at, area_id, actor_id, object_ref, payload)"
    )


def event_recorded_publish(*, event_id: int, type: str, area_id: int | None, occurred_at: datetime) -> None:  # noqa: A002
    """Publish `datahub.event_recorded` (after commit) for an event written by `event_insert_sql`."""
    from cityos import bus

    bus.publish(
        "datahub.event_recorded",
        {"event_id": event_id, "type": type, "area_id": area_id, "occurred_at": occurred_at.isoformat()},
    )


def event_record_many(*, events: list[dict]) -> int:
    """Append many events at once (an import's registrations, a bulk confirmation): each dict takes
    `event_record`'s arguments. One INSERT, one `datahub.event_recorded` summary per type; returns
    how many were written."""
    from django.utils import timezone

    from cityos import bus

    from .models import Event

    now = timezone.now()
    objs = [
        Event(
            type=e["type"],
            occurred_at=e.get("occurred_at") or now,
            subject_id=e.get("subject_id"),
            area_id=e.get("area_id"),
            location=Point(e["lon"], e["lat"], srid=4326)
            if e.get("lon") is not None and e.get("lat") is not None
            else None,
            actor_id=e.get("actor_id"),
            source_id=e.get("source_id"),
            object_ref=e.get("object_ref", "")[:100],
            department_id=e.get("department_id"),
            payload=e.get("payload") or {},
        )
        for e in events
    ]
    Event.objects.bulk_create(objs, batch_size=5000)
    for type_ in sorted({e.type for e in objs}):
        bus.publish(
            "datahub.event_recorded",
            {"event_id": None, "type": type_, "area_id": None, "bulk": True, "occurred_at": now.isoformat()},
        )
    return len(objs)


def area_subtree_ids(*, area_id: int) -> list[int]:
    """The area and every area below it (for "enterprises in this district" tests)."""
    out, frontier = {area_id}, [area_id]
    while frontier:
        frontier = list(Area.objects.filter(parent_id__in=frontier).exclude(id__in=out).values_list("id", flat=True))
        out.update(frontier)
    return sorted(out) if Area.objects.filter(id=area_id).exists() else []


def address_geocode(*, address: str) -> dict | None:
    """Locate an address through the gazetteer: the most specific area it names, with that area's
    centroid as an approximate point: {"area_id", "level", "lon", "lat"}; None if it names none."""
    matched = area_match_text(text=address or "")
    if not matched:
        return None
    rank = {"grid": 0, "community": 1, "street": 2, "district": 3, "city": 4, "province": 5}
    best = min(matched, key=lambda a: rank.get(a.level, 9))
    area = Area.objects.filter(id=best.id).only("centroid", "geometry").first()
    point = None
    if area is not None:
        point = area.centroid or (area.geometry.point_on_surface if area.geometry is not None else None)
    return {
        "area_id": best.id,
        "level": best.level,
        "lon": point.x if point is not None else None,
        "lat": point.y if point is not None else None,
    }


def documents_mentioning(*, entity_id: int, limit: int = 20) -> list[dict]:
    """Internet documents linked to the entity (entity linking), newest first, with sentiment:
    [{"id", "title", "url", "published_at", "sentiment", "sentiment_score", "topic"}]."""
    return list(_documents_mentioning_qs(entity_id=entity_id, limit=limit))


def _documents_mentioning_qs(*, entity_id: int, limit: int):
    from .models import Document

    return (
        Document.objects.filter(entity_links__entity_id=entity_id)
        .order_by("-published_at")
        .values("id", "title", "url", "published_at", "sentiment", "sentiment_score", "topic")[:limit]
    )


def document_sentiment_counts(*, entity_ids: list[int], since: datetime) -> dict[int, dict]:
    """{entity_id: {"negative": n, "total": n}} of documents mentioning each entity since a time."""
    from django.db.models import Count, Q

    from .models import DocumentEntity

    rows = (
        DocumentEntity.objects.filter(entity_id__in=entity_ids, document__published_at__gte=since)
        .values("entity_id")
        .annotate(total=Count("id"), negative=Count("id", filter=Q(document__sentiment="negative")))
    )
    return {r["entity_id"]: {"negative": r["negative"], "total": r["total"]} for r in rows}


def _degrees(metres: float, lat: float) -> float:
    """Metres as degrees for an index-backed ST_DWithin on WGS84 (the longitude scale at this
    latitude, so the circle is never smaller than asked: slightly generous north-south)."""
    import math

    return metres / (111_320.0 * max(0.1, math.cos(math.radians(lat))))


def alerts_near(
    *,
    lon: float | None = None,
    lat: float | None = None,
    metres: float = 200,
    subject_id: int | None = None,
    active_only: bool = False,
    limit: int = 20,
) -> list[dict]:
    """Monitoring alerts of devices within `metres` of a point, or about the entity: newest first,
    [{"id", "title", "severity", "status", "raised_at", "metres"}]."""
    qs = _alerts_near_qs(lon=lon, lat=lat, metres=metres, subject_id=subject_id, active_only=active_only, limit=limit)
    return [] if qs is None else list(qs)


def _alerts_near_qs(*, lon, lat, metres, subject_id, active_only, limit):
    from django.db.models import Q

    from .models import Alert

    cond = Q()
    if subject_id is not None:
        cond |= Q(subject_id=subject_id)
    if lon is not None and lat is not None:
        cond |= Q(datastream__device__point__dwithin=(Point(lon, lat, srid=4326), _degrees(metres, lat)))
    if not cond:
        return None
    qs = Alert.objects.filter(cond)
    if active_only:
        qs = qs.filter(status="active")
    return qs.order_by("-raised_at").values("id", "title", "severity", "status", "raised_at")[:limit]


def events_near(
    *,
    lon: float | None = None,
    lat: float | None = None,
    metres: float = 50,
    subject_id: int | None = None,
    type_prefix: str = "",
    since: datetime | None = None,
    limit: int = 20,
) -> list[dict]:
    """Logged events at (within `metres` of) a point or about an entity, e.g. citizen cases at an
    enterprise's address: [{"id", "type", "occurred_at", "object_ref", "payload"}], newest first."""
    qs = _events_near_qs(
        lon=lon, lat=lat, metres=metres, subject_id=subject_id, type_prefix=type_prefix, since=since, limit=limit
    )
    return [] if qs is None else list(qs)


def _events_near_qs(*, lon, lat, metres, subject_id, type_prefix, since, limit):
    from django.db.models import Q

    from .models import Event

    cond = Q()
    if subject_id is not None:
        cond |= Q(subject_id=subject_id)
    if lon is not None and lat is not None:
        cond |= Q(location__dwithin=(Point(lon, lat, srid=4326), _degrees(metres, lat)))
    if not cond:
        return None
    qs = Event.objects.filter(cond)
    if type_prefix:
        qs = qs.filter(type__startswith=type_prefix)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    return qs.order_by("-occurred_at").values("id", "type", "occurred_at", "object_ref", "payload")[:limit]


def entity_surroundings(
    *,
    entity_id: int,
    lon: float | None = None,
    lat: float | None = None,
    event_metres: float = 50,
    event_type_prefix: str = "",
    event_since: datetime | None = None,
    alert_metres: float = 200,
    limit: int = 20,
) -> dict[str, list[dict]]:
    """What surrounds one entity, as events_near + alerts_near + documents_mentioning would give it
    (same rows, same order), in one SQL round trip: {"events": [...], "alerts": [...], "documents": [...]}.
    A profile page shows all three; on a loaded host each saved round trip is 5–20 ms."""
    from cityos.querysets import values_together

    parts = {
        "events": _events_near_qs(
            lon=lon,
            lat=lat,
            metres=event_metres,
            subject_id=entity_id,
            type_prefix=event_type_prefix,
            since=event_since,
            limit=limit,
        ),
        "alerts": _alerts_near_qs(
            lon=lon, lat=lat, metres=alert_metres, subject_id=entity_id, active_only=False, limit=limit
        ),
        "documents": _documents_mentioning_qs(entity_id=entity_id, limit=limit),
    }
    return values_together({k: qs for k, qs in parts.items() if qs is not None}) | {
        k: [] for k, qs in parts.items() if qs is None
    }


def dataset_rows(*, dataset_id: int, limit: int = 100_000) -> list[dict] | None:
    """The current records of a catalogued dataset as plain dicts (its `data`, plus `_lon`/`_lat`
    when it has a point), for an app's field mapping; None when the dataset does not exist."""
    from .models import Dataset, DatasetRecord

    if not Dataset.objects.filter(id=dataset_id).exists():
        return None
    out = []
    for data, geom in (
        DatasetRecord.objects.filter(dataset_id=dataset_id, version_to=None)
        .order_by("row_number", "id")
        .values_list("data", "geom")[:limit]
    ):
        row = dict(data)
        if geom is not None and geom.geom_type == "Point":
            row["_lon"], row["_lat"] = geom.x, geom.y
        out.append(row)
    return out


def event_exists(*, type: str, object_ref: str) -> bool:  # noqa: A002
    """Whether an event of this type about this object was already recorded (idempotent writers)."""
    from .models import Event

    return Event.objects.filter(type=type, object_ref=object_ref).exists()


def area_descendant_ids(*, area_id: int) -> list[int]:
    """The area and every area below it (district -> streets -> grids), for "in this area" filters."""
    ids, frontier = [area_id], [area_id]
    while frontier:
        frontier = list(Area.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


# --- places (the intake desk's address search; the maps' base layer) --------------------------

_PLACE_LEVEL_RANK = {"grid": 0, "community": 1, "street": 2, "district": 3, "city": 4, "province": 5}
_PLACE_ENTITY_TYPES = ("facility", "road", "building", "park", "enterprise")


def place_search(*, query: str, limit: int = 8) -> list[dict]:
    """The city's own places for an address box: first the address geocoded through the gazetteer
    (the most specific area it names), then mapped areas and located entities (facilities, roads,
    buildings, parks, enterprises) whose Chinese or English name (or recorded address) contains the
    query. [{"kind": "address"|"area"|"entity", "id", "name", "name_en", "type", "lon", "lat"}]."""
    from django.contrib.gis.db.models.functions import PointOnSurface
    from django.db.models import Q

    query = (query or "").strip()[:100]
    if len(query) < 2:
        return []
    out: list[dict] = []
    geocoded = address_geocode(address=query)
    if geocoded and geocoded["lon"] is not None:
        area = Area.objects.filter(id=geocoded["area_id"]).values("name", "name_en").first() or {}
        out.append(
            {
                "kind": "address",
                "id": geocoded["area_id"],
                "name": query,
                "name_en": query,
                "type": geocoded["level"],
                "area": area.get("name", ""),
                "area_en": area.get("name_en", ""),
                "lon": geocoded["lon"],
                "lat": geocoded["lat"],
            }
        )
    areas = (
        Area.objects.filter(Q(name__icontains=query) | Q(name_en__icontains=query), geometry__isnull=False)
        .annotate(spot=PointOnSurface("geometry"))
        .values("id", "name", "name_en", "level", "centroid", "spot")[: limit * 2]
    )
    for a in sorted(areas, key=lambda a: (_PLACE_LEVEL_RANK.get(a["level"], 9), len(a["name"]))):
        p = a["centroid"] or a["spot"]
        out.append(
            {
                "kind": "area",
                "id": a["id"],
                "name": a["name"],
                "name_en": a["name_en"],
                "type": a["level"],
                "lon": p.x,
                "lat": p.y,
            }
        )
    entities = (
        Entity.objects.filter(
            Q(name__icontains=query) | Q(name_en__icontains=query) | Q(attributes__address__icontains=query),
            geometry__isnull=False,
            merged_into__isnull=True,
            type__in=_PLACE_ENTITY_TYPES,
        )
        .annotate(spot=PointOnSurface("geometry"))
        .order_by("name")
        .values("id", "name", "name_en", "type", "spot")[:limit]
    )
    for e in entities:
        out.append(
            {
                "kind": "entity",
                "id": e["id"],
                "name": e["name"],
                "name_en": e["name_en"],
                "type": e["type"],
                "lon": e["spot"].x,
                "lat": e["spot"].y,
            }
        )
    return out[:limit]


def basemap_features(*, levels: tuple[str, ...] = ("district", "street"), simplify: float = 0.0003) -> dict:
    """The city's own base map as one GeoJSON FeatureCollection: area boundaries of `levels`, roads
    (lines) and facilities/parks (points or shapes) where the registry has them located. Features
    carry {"layer": "district"|"street"|"road"|"facility"|"park", "name", "name_en"}."""
    import json

    features = []
    for level in levels:
        for row in area_geometries(level=level, simplify=simplify):
            features.append(
                {
                    "type": "Feature",
                    "geometry": row["geometry"],
                    "properties": {"layer": level, "name": row["name"], "name_en": row["name_en"]},
                }
            )
    # Roads and facilities: up to 5,000 of them (a base map, not the registry), simplified lines.
    qs = (
        Entity.objects.filter(type__in=("road", "facility", "park"), geometry__isnull=False, merged_into__isnull=True)
        .only("id", "type", "name", "name_en", "geometry")
        .order_by("id")[:5000]
    )
    for e in qs:
        geom = e.geometry.simplify(simplify, preserve_topology=True) if e.geometry.geom_type != "Point" else e.geometry
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(geom.geojson),
                "properties": {"layer": e.type, "name": e.name, "name_en": e.name_en},
            }
        )
    return {"type": "FeatureCollection", "features": features}
