"""Entities: one registry of real-world things, entity resolution, and merge/split by a person.

Resolution (`entity_resolve`) attaches a row that names a thing to one entity:
1. an identifier already known (scheme + value, e.g. a USCC or a licence number) → that entity,
   confidence 1.0;
2. else the same type and normalised name (see datahub.core.normalize) AND the same place: within
   `NEAR_METRES` (confidence 0.95 at 0 m falling linearly to 0.70 at 200 m) or, without points, in
   the same area (0.70) or in the street that contains the row's grid cell (0.65); a row with no place at all matches a single same-name entity that has no
   place either (0.60), so resolving a bare name twice does not create two entities;
3. else a new entity (confidence 1.0, created=True).
Concurrent resolutions of the same name are serialised by a transaction-level advisory lock.

Merge moves everything that points at the merged entity (identifiers, events, and any other
app's foreign keys to datahub.Entity, found through the model registry) to the surviving one and
records what moved in an `entity.merged` event, so `entity_split` can undo it exactly.
"""

import hashlib
import math
from dataclasses import dataclass

from django.apps import apps
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import IntegrityError, connection, transaction
from django.db.models import ForeignKey
from django.db.models.expressions import RawSQL

from datahub.core.models import Area, Entity, EntityIdentifier, Event, Source
from datahub.core.normalize import normalize_name
from datahub.core.services.events import event_record

NEAR_METRES = 200.0
SMALL_LEVELS = ("grid", "community", "street")
# Each row holds 1–3 transaction-level advisory locks until commit; PostgreSQL's shared lock table
# has ~6,400 slots by default (64 x 100 connections), so a batch stays well below that.
MAX_RESOLVE_BATCH = 500
CONF_NEAR_MAX, CONF_NEAR_MIN, CONF_SAME_AREA, CONF_ENCLOSING_AREA, CONF_NAME_ONLY = 0.95, 0.70, 0.70, 0.65, 0.60


class EntityError(ValueError):
    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Resolution:
    entity_id: int
    confidence: float
    created: bool

    def __iter__(self):  # so callers may unpack: entity_id, confidence, created = entity_resolve(…)
        return iter((self.entity_id, self.confidence, self.created))


def _point(lon, lat) -> Point | None:
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        raise EntityError("give both lon and lat, or neither", field="lon" if lon is None else "lat")
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise EntityError("lon and lat must be numbers", field="lon") from exc
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise EntityError(f"({lon}, {lat}) is not a WGS84 longitude/latitude", field="lon")
    return Point(lon, lat, srid=4326)


def _clean_identifiers(identifiers: dict | None) -> dict[str, str]:
    out = {}
    for scheme, value in (identifiers or {}).items():
        scheme, value = str(scheme).strip(), str(value if value is not None else "").strip()
        if not scheme or not value:
            raise EntityError(f"identifier {scheme or '?'!r} needs a scheme and a value", field="identifiers")
        if len(scheme) > 64 or len(value) > 200:
            raise EntityError(f"identifier {scheme!r} is too long", field="identifiers")
        out[scheme] = value
    return out


def _deepest_area(point: Point) -> int | None:
    order = ["grid", "community", "street", "district", "city", "province", "other"]
    found = dict(Area.objects.filter(geometry__contains=point).values_list("level", "id"))
    return next((found[lv] for lv in order if lv in found), None)


def _enclosing_small_areas(area_id: int) -> set[int]:
    """Ancestors of the area at street level or below (grid → community → street)."""
    out, seen = set(), {area_id}
    parent = Area.objects.filter(id=area_id).values_list("parent_id", flat=True).first()
    while parent and parent not in seen:
        seen.add(parent)
        row = Area.objects.filter(id=parent).values_list("level", "parent_id").first()
        if row is None or row[0] not in SMALL_LEVELS:
            break
        out.add(parent)
        parent = row[1]
    return out


def _live(entity_id: int) -> int:
    """Follow merged_into to the surviving entity (chains are flattened by merge, but be safe)."""
    seen = set()
    while entity_id not in seen:
        seen.add(entity_id)
        nxt = Entity.objects.filter(id=entity_id).values_list("merged_into_id", flat=True).first()
        if not nxt:
            return entity_id
        entity_id = nxt
    return entity_id


def _attach(entity_id: int, identifiers: dict[str, str], source_id: int | None, confidence: float) -> None:
    for scheme, value in identifiers.items():
        # Identifiers owned by another entity stay there: a conflict is for a person to merge.
        EntityIdentifier.objects.get_or_create(
            scheme=scheme,
            value=value,
            defaults={"entity_id": entity_id, "source_id": source_id, "confidence": confidence},
        )


def _lock(*parts: str) -> None:
    key = int.from_bytes(hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def entity_create(
    *,
    type: str,  # noqa: A002
    name: str,
    name_en: str = "",
    geometry: GEOSGeometry | None = None,
    area_id: int | None = None,
    department_id: int | None = None,
    attributes: dict | None = None,
    identifiers: dict | None = None,
    source_id: int | None = None,
) -> int:
    if type not in Entity.Type.values:
        raise EntityError(f"type must be one of {', '.join(Entity.Type.values)}", field="type")
    name = (name or "").strip()
    if not name:
        raise EntityError("name is required", field="name")
    if attributes is not None and not isinstance(attributes, dict):
        raise EntityError("attributes must be a JSON object", field="attributes")
    ids = _clean_identifiers(identifiers)
    if geometry is not None and area_id is None:
        area_id = _deepest_area(geometry if isinstance(geometry, Point) else geometry.point_on_surface)
    with transaction.atomic():
        entity = Entity.objects.create(
            type=type,
            name=name[:300],
            name_en=(name_en or "")[:300],
            normalized_name=normalize_name(name),
            geometry=geometry,
            area_id=area_id,
            department_id=department_id,
            attributes=attributes or {},
        )
        taken = [f"{s}:{v}" for s, v in ids.items() if EntityIdentifier.objects.filter(scheme=s, value=v).exists()]
        if taken:
            raise EntityError(f"identifier {taken[0]} belongs to another entity", field="identifiers")
        _attach(entity.id, ids, source_id, 1.0)
    return entity.id


def entity_update(*, entity_id: int, **fields) -> None:
    """Change name/name_en/type/attributes/geometry/area/department; keeps normalized_name in step."""
    allowed = {"name", "name_en", "type", "attributes", "geometry", "area_id", "department_id"}
    unknown = set(fields) - allowed
    if unknown:
        raise EntityError(f"cannot change {', '.join(sorted(unknown))}")
    if "type" in fields and fields["type"] not in Entity.Type.values:
        raise EntityError("unknown type", field="type")
    if "name" in fields:
        if not (fields["name"] or "").strip():
            raise EntityError("name is required", field="name")
        fields["normalized_name"] = normalize_name(fields["name"])
    Entity.objects.filter(id=entity_id).update(**fields)


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
    area_id: int | None = None,
) -> Resolution:
    """Find the entity a row names, or create it. See the module docstring for the rules."""
    if type not in Entity.Type.values:
        raise EntityError(f"type must be one of {', '.join(Entity.Type.values)}", field="type")
    if not (name or "").strip():
        raise EntityError("name is required", field="name")
    if source_id is not None and not Source.objects.filter(id=source_id).exists():
        raise EntityError(f"source {source_id} does not exist", field="source_id")
    ids = _clean_identifiers(identifiers)
    point = _point(lon, lat)
    norm = normalize_name(name)
    with transaction.atomic():
        _lock("entity", type, norm)
        for scheme, value in sorted(ids.items()):
            _lock("identifier", scheme, value)
        # 1. a known identifier
        # Identifiers naming two different entities are a conflict for a person to merge; until
        # then the row goes to the oldest of them (deterministic: lowest id).
        known = (
            EntityIdentifier.objects.filter(scheme__in=list(ids), value__in=list(ids.values()))
            .order_by("entity_id")
            .values_list("scheme", "value", "entity_id")
        )
        hit = next((eid for s, v, eid in known if ids.get(s) == v), None)
        if hit is not None:
            entity_id = _live(hit)
            _attach(entity_id, ids, source_id, 1.0)
            _add_attributes(entity_id, attributes)
            return Resolution(entity_id, 1.0, False)
        # 2. the same normalised name in the same place
        area = area_id or (_deepest_area(point) if point else None)
        best: tuple[float, int] | None = None
        candidates = Entity.objects.filter(type=type, normalized_name=norm, merged_into=None)
        if point is not None:
            # Metres on the spheroid (geography); bound parameter, no string formatting.
            candidates = candidates.annotate(
                metres=RawSQL("ST_Distance(geometry::geography, ST_GeomFromEWKT(%s)::geography)", [point.ewkt])  # noqa: S611
            )
            rows = candidates.values_list("id", "area_id", "metres")
        else:
            rows = [(i, a, None) for i, a in candidates.values_list("id", "area_id")]
        placeless = []
        rows = list(rows)
        # A candidate filed under the street (or community) that contains the row's grid cell is
        # in the same place too, a little less surely; a whole district or city is too coarse.
        enclosing = _enclosing_small_areas(area) if area is not None and rows else set()
        for eid, e_area, metres in rows:
            conf = None
            if metres is not None and metres <= NEAR_METRES:
                conf = CONF_NEAR_MAX - (CONF_NEAR_MAX - CONF_NEAR_MIN) * (metres / NEAR_METRES)
            elif area is not None and e_area == area:
                conf = CONF_SAME_AREA
            elif e_area is not None and e_area in enclosing:
                conf = CONF_ENCLOSING_AREA
            elif area is None and point is None and e_area is None:
                placeless.append(eid)
            if conf is not None and (best is None or conf > best[0]):
                best = (conf, eid)
        if best is None and point is None and area is None:
            no_geom = set(Entity.objects.filter(id__in=placeless, geometry=None).values_list("id", flat=True))
            if len(no_geom) == 1:
                best = (CONF_NAME_ONLY, no_geom.pop())
        if best is not None:
            conf, entity_id = round(best[0], 3), best[1]
            _attach(entity_id, ids, source_id, conf)
            _add_attributes(entity_id, attributes)
            return Resolution(entity_id, conf, False)
        # 3. a new entity
        try:
            with transaction.atomic():
                entity_id = entity_create(
                    type=type,
                    name=name,
                    name_en=name_en or "",
                    geometry=point,
                    area_id=area,
                    attributes=attributes,
                    identifiers=ids,
                    source_id=source_id,
                )
        except IntegrityError as exc:  # an identifier inserted concurrently under another name
            raise EntityError(f"identifier conflict: {exc}", field="identifiers") from exc
        return Resolution(entity_id, 1.0, True)


def entity_resolve_many(*, rows: list[dict], source_id: int | None = None) -> list[Resolution]:
    """Resolve many rows in one transaction, all or nothing (an import's rows attach together or
    not at all). Throughput is that of single calls (~400 rows/s on the busy bench machine); the
    point is atomicity. A bad row raises EntityError naming its index: "row 17: name is required"."""
    if len(rows) > MAX_RESOLVE_BATCH:
        raise EntityError(f"at most {MAX_RESOLVE_BATCH} rows per call (got {len(rows)}): send them in chunks")
    out = []
    with transaction.atomic():
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise EntityError(f"row {index}: must be an object")
            kwargs = {"source_id": source_id, **row}
            unknown = set(kwargs) - _RESOLVE_ARGS
            if unknown:
                raise EntityError(f"row {index}: unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
            try:
                out.append(entity_resolve(**kwargs))
            except EntityError as exc:
                raise EntityError(f"row {index}: {exc}", field=exc.field) from exc
    return out


_RESOLVE_ARGS = {"type", "name", "name_en", "identifiers", "lon", "lat", "attributes", "source_id", "area_id"}


def _add_attributes(entity_id: int, attributes: dict | None) -> None:
    """A matched row adds attributes the entity lacks; it never overwrites what another source said."""
    if not attributes:
        return
    if not isinstance(attributes, dict):
        raise EntityError("attributes must be a JSON object", field="attributes")
    entity = Entity.objects.select_for_update().get(id=entity_id)
    missing = {k: v for k, v in attributes.items() if k not in entity.attributes}
    if missing:
        entity.attributes = {**entity.attributes, **missing}
        entity.save(update_fields=["attributes", "updated_at"])


def _references() -> list[tuple[type, str]]:
    """Every (model, fk field name) that points at Entity, in every installed app, except merged_into."""
    out = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if (
                isinstance(f, ForeignKey)
                and f.related_model is Entity
                and not (model is Entity and f.name == "merged_into")
            ):
                out.append((model, f.name))
    return out


def entity_merge(*, target_id: int, merged_id: int, actor_id: int | None = None, reason: str = "") -> int:
    """Fold `merged_id` into `target_id`; returns the `entity.merged` event's id."""
    if target_id == merged_id:
        raise EntityError("an entity cannot be merged into itself", field="merged_id")
    with transaction.atomic():
        found = {e.id: e for e in Entity.objects.select_for_update().filter(id__in=[target_id, merged_id])}
        if target_id not in found:
            raise EntityError(f"entity {target_id} does not exist", field="target_id")
        if merged_id not in found:
            raise EntityError(f"entity {merged_id} does not exist", field="merged_id")
        target, merged = found[target_id], found[merged_id]
        if target.merged_into_id:
            raise EntityError(f"entity {target_id} was itself merged into {target.merged_into_id}", field="target_id")
        if merged.merged_into_id:
            raise EntityError(f"entity {merged_id} is already merged into {merged.merged_into_id}", field="merged_id")
        if target.type != merged.type:
            raise EntityError(f"cannot merge a {merged.type} into a {target.type}", field="merged_id")
        moved: dict[str, list[int]] = {}
        for model, field in _references():
            qs = model.objects.filter(**{field: merged_id})
            ids = list(qs.values_list("pk", flat=True))
            if ids:
                model.objects.filter(pk__in=ids).update(**{field: target_id})
                moved[f"{model._meta.label_lower}.{field}"] = ids
        # Entities merged into the one now going away follow it (no chains to walk).
        chained = list(Entity.objects.filter(merged_into_id=merged_id).values_list("id", flat=True))
        Entity.objects.filter(id__in=chained).update(merged_into_id=target_id)
        moved["datahub.entity.merged_into"] = chained
        merged.merged_into_id = target_id
        merged.save(update_fields=["merged_into", "updated_at"])
        if not target.name_en and merged.name_en:
            target.name_en = merged.name_en
        target.attributes = {**merged.attributes, **target.attributes}
        if target.geometry is None and merged.geometry is not None:
            target.geometry, target.area_id = merged.geometry, target.area_id or merged.area_id
        target.save()
        event_id = event_record(
            type="entity.merged",
            subject_id=target_id,
            area_id=target.area_id,
            actor_id=actor_id,
            object_ref=f"datahub:entity:{merged_id}",
            payload={"target_id": target_id, "merged_id": merged_id, "moved": moved, "reason": reason},
        )
    return event_id


def entity_split(
    *, entity_id: int, identifier_ids: list[int] | None = None, actor_id: int | None = None, reason: str = ""
) -> int:
    """Undo a merge of `entity_id`, or split chosen identifiers off an entity into a new one.

    For a merged entity: it lives again; `identifier_ids` (default: those the merge moved) go back
    to it, with every other link the merge moved that still points at the survivor. For an entity
    that was never merged (a wrong automatic resolution): a new entity of the same type and name
    takes the chosen identifiers. Returns the `entity.split` event's id.
    """
    with transaction.atomic():
        entity = Entity.objects.select_for_update().filter(id=entity_id).first()
        if entity is None:
            raise EntityError(f"entity {entity_id} does not exist", field="entity_id")
        if entity.merged_into_id:
            return _unmerge(entity, identifier_ids, actor_id, reason)
        if not identifier_ids:
            raise EntityError("choose the identifiers to split off", field="identifier_ids")
        idents = list(EntityIdentifier.objects.filter(id__in=identifier_ids, entity_id=entity_id))
        if len(idents) != len(set(identifier_ids)):
            raise EntityError(f"identifiers must belong to entity {entity_id}", field="identifier_ids")
        if EntityIdentifier.objects.filter(entity_id=entity_id).count() == len(idents):
            raise EntityError("leave at least one identifier on the entity", field="identifier_ids")
        new = Entity.objects.create(
            type=entity.type,
            name=entity.name,
            name_en=entity.name_en,
            normalized_name=entity.normalized_name,
            area_id=entity.area_id,
            department_id=entity.department_id,
        )
        EntityIdentifier.objects.filter(id__in=[i.id for i in idents]).update(entity_id=new.id)
        return event_record(
            type="entity.split",
            subject_id=entity_id,
            area_id=entity.area_id,
            actor_id=actor_id,
            object_ref=f"datahub:entity:{new.id}",
            payload={
                "from_id": entity_id,
                "new_id": new.id,
                "identifier_ids": [i.id for i in idents],
                "reason": reason,
            },
        )


def _unmerge(entity: Entity, identifier_ids: list[int] | None, actor_id: int | None, reason: str) -> int:
    target_id = entity.merged_into_id
    merge_event = (
        Event.objects.filter(type="entity.merged", payload__merged_id=entity.id, payload__target_id=target_id)
        .order_by("-occurred_at", "-id")
        .first()
    )
    moved = (merge_event.payload.get("moved") if merge_event else None) or {}
    ident_key = "datahub.entityidentifier.entity"
    if identifier_ids is None:
        identifier_ids = moved.get(ident_key, [])
    elif EntityIdentifier.objects.filter(id__in=identifier_ids).exclude(entity_id=target_id).exists():
        raise EntityError(f"identifiers must belong to entity {target_id}", field="identifier_ids")
    EntityIdentifier.objects.filter(id__in=identifier_ids, entity_id=target_id).update(entity_id=entity.id)
    restored: dict[str, list[int]] = {ident_key: list(identifier_ids)}
    for model, field in _references():
        key = f"{model._meta.label_lower}.{field}"
        if key == ident_key or not moved.get(key):
            continue
        ids = list(model.objects.filter(pk__in=moved[key], **{field: target_id}).values_list("pk", flat=True))
        model.objects.filter(pk__in=ids).update(**{field: entity.id})
        restored[key] = ids
    chained = moved.get("datahub.entity.merged_into", [])
    Entity.objects.filter(id__in=chained, merged_into_id=target_id).update(merged_into_id=entity.id)
    entity.merged_into_id = None
    entity.save(update_fields=["merged_into", "updated_at"])
    return event_record(
        type="entity.split",
        subject_id=entity.id,
        area_id=entity.area_id,
        actor_id=actor_id,
        object_ref=f"datahub:entity:{target_id}",
        payload={"from_id": target_id, "restored_id": entity.id, "restored": restored, "reason": reason},
    )
