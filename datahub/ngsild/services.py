"""Writes of the NGSI-LD API: entities created or changed by clients, subscriptions and their notifications.

An entity a client creates is a datahub registry entity (type from its NGSI-LD type where one maps,
`other` otherwise) whose attributes keep the normalized NGSI-LD form, plus an `ngsi-ld` identifier
holding the id the client chose. Every change records a datahub event (`ngsild.entity_created`,
`…_updated`, `…_deleted`) and, after commit, queues notifications for matching subscriptions.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import uuid
from datetime import datetime

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.signals import post_save
from django.utils import timezone

from cityos import bus
from datahub.core.services.events import event_record
from datahub.models import Entity, EntityIdentifier
from datahub.search.providers import push_instance as search_push

from . import query
from .models import NgsiSubscription
from .selectors import (
    _URN,
    AREA_TYPE,
    ATTR_TYPES,
    DATAHUB_TYPE,
    SCHEME,
    NgsiError,
    Ref,
    bad,
    can_write,
    entities_visible_to,
    geometry_from,
    id_taken,
    parse_when,
    render,
    resolve,
)

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.#/@-]{0,199}$")
_RESERVED = {"id", "type", "@context", "createdAt", "modifiedAt", "scope"}
SUBSCRIBED_TYPES_KEY = "ngsild:subscribed-types"
# Batch upserts of up to this many entities update the search index within the request.
INLINE_INDEX_MAX = 100


# --- validation --------------------------------------------------------------------------------------


def _clean_attr(name: str, attr) -> dict:
    if not _NAME.match(name):
        raise bad(f"{name!r} is not a valid attribute name")
    if not isinstance(attr, dict):
        raise bad(f"{name}: an attribute must be an object with a type (Property, GeoProperty, Relationship)")
    kind = attr.get("type")
    if kind not in ATTR_TYPES:
        raise bad(f"{name}: type must be one of {', '.join(ATTR_TYPES)}, got {kind!r}")
    if kind == "Relationship":
        target = attr.get("object")
        if not isinstance(target, str) or ":" not in target:
            raise bad(f"{name}: a Relationship needs an `object` that is a URI")
    elif kind == "LanguageProperty":
        if not isinstance(attr.get("languageMap"), dict):
            raise bad(f"{name}: a LanguageProperty needs a `languageMap` object")
    elif "value" not in attr:
        raise bad(f"{name}: a {kind} needs a `value`")
    if kind == "GeoProperty":
        geometry_from(attr["value"])
    observed = attr.get("observedAt")
    if observed is not None and (not isinstance(observed, str) or parse_when(observed) is None):
        raise bad(f"{name}: observedAt must be an ISO 8601 date-time")
    out = {k: v for k, v in attr.items() if k not in ("createdAt", "modifiedAt")}
    for sub, value in attr.items():
        if isinstance(value, dict) and value.get("type") in ATTR_TYPES and sub not in ("value",):
            out[sub] = _clean_attr(sub, value)
    return out


def clean_entity(body) -> tuple[str, str, dict]:
    """(id, type, attributes) of an entity payload; BadRequestData naming what is wrong."""
    if not isinstance(body, dict):
        raise bad("an entity must be a JSON object")
    eid, etype = body.get("id"), body.get("type")
    if not isinstance(eid, str) or ":" not in eid or len(eid) > 200 or any(c.isspace() for c in eid):
        raise bad(f"id: {eid!r} is not a valid entity id (a URI such as urn:ngsi-ld:Type:local-id)")
    if isinstance(etype, list) and len(etype) == 1:
        etype = etype[0]
    if not isinstance(etype, str) or not _NAME.match(etype):
        raise bad(f"type: {etype!r} is not a valid entity type")
    attrs = {k: _clean_attr(k, v) for k, v in body.items() if k not in _RESERVED}
    return eid, etype, attrs


def clean_attrs(body) -> dict:
    if not isinstance(body, dict):
        raise bad("the attributes must be a JSON object")
    return {k: _clean_attr(k, v) for k, v in body.items() if k not in _RESERVED}


def _check_writer(user, entity: Entity | None = None) -> None:
    if not can_write(user):
        raise NgsiError("Forbidden", "only administrators and department officers may change entities", 403)
    if entity is not None and (entity.attributes or {}).get("ngsi") is None:
        raise NgsiError(
            "OperationNotSupported",
            "this entity is owned by the datahub registry (device, facility, enterprise…): change it through its own API",
            422,
        )
    if (
        entity is not None
        and entity.department_id
        and not (user.is_superuser or user.role == "administrator")
        and entity.department_id != user.department_id
    ):
        raise NgsiError("Forbidden", "this entity belongs to another department", 403)


def _apply(entity: Entity, attrs: dict) -> None:
    stored = dict(entity.attributes.get("ngsi") or {})
    stored.update(attrs)
    entity.attributes = {**entity.attributes, "ngsi": stored}
    name = stored.get("name", {}).get("value") if isinstance(stored.get("name"), dict) else None
    if isinstance(name, str) and name.strip():
        entity.name = name.strip()[:300]
    loc = stored.get("location")
    entity.geometry = geometry_from(loc["value"]) if isinstance(loc, dict) and "value" in loc else None


# --- entities ----------------------------------------------------------------------------------------


def entity_create(*, user, body) -> str:
    eid, etype, attrs = clean_entity(body)
    _check_writer(user)
    if etype in ("Device", "AdministrativeArea"):
        raise NgsiError(
            "OperationNotSupported",
            f"type {etype}: devices are registered through the IoT API and areas through the area import",
            422,
        )
    if id_taken(eid):
        raise NgsiError("AlreadyExists", f"{eid}: an entity with this id already exists", 409)
    with transaction.atomic():
        dh_type = DATAHUB_TYPE.get(etype, Entity.Type.OTHER)
        entity = Entity(
            type=dh_type,
            name=eid[-300:],
            department_id=getattr(user, "department_id", None),
            attributes={"ngsi_id": eid, "ngsi_type": etype, "ngsi": {}},
        )
        _apply(entity, attrs)
        entity.save()
        try:
            with transaction.atomic():
                EntityIdentifier.objects.create(entity=entity, scheme=SCHEME, value=eid)
        except IntegrityError:
            raise NgsiError("AlreadyExists", f"{eid}: an entity with this id already exists", 409) from None
        _changed(entity, "created", user, list(attrs))
    return eid


def entity_update(*, user, eid: str, attrs_body, append: bool, overwrite: bool = True) -> list[str]:
    """PATCH …/attrs (append=False: only existing attributes; the names not updated are returned) or
    POST …/attrs (append=True: add, replacing existing ones unless overwrite=False)."""
    attrs = clean_attrs(attrs_body)
    with transaction.atomic():
        ref = resolve(eid, user)
        if ref.entity is None:
            _check_writer(user, None)
            raise NgsiError("OperationNotSupported", f"{eid}: areas are read-only here", 422)
        entity = Entity.objects.select_for_update().get(pk=ref.entity.pk)
        _check_writer(user, entity)
        existing = entity.attributes.get("ngsi") or {}
        if append:
            chosen = attrs if overwrite else {k: v for k, v in attrs.items() if k not in existing}
        else:
            chosen = {k: v for k, v in attrs.items() if k in existing}
        not_updated = [k for k in attrs if k not in chosen]
        if chosen:
            _apply(entity, chosen)
            entity.save()
            _changed(entity, "updated", user, list(chosen))
    return not_updated


def attribute_delete(*, user, eid: str, name: str) -> None:
    with transaction.atomic():
        ref = resolve(eid, user)
        if ref.entity is None:
            raise NgsiError("OperationNotSupported", f"{eid}: areas are read-only here", 422)
        entity = Entity.objects.select_for_update().get(pk=ref.entity.pk)
        _check_writer(user, entity)
        stored = dict(entity.attributes.get("ngsi") or {})
        if name not in stored:
            raise NgsiError("ResourceNotFound", f"{eid}: no attribute {name!r}", 404)
        stored.pop(name)
        entity.attributes = {**entity.attributes, "ngsi": {}}
        _apply(entity, stored)
        entity.save()
        _changed(entity, "updated", user, [name])


def entity_delete(*, user, eid: str) -> None:
    with transaction.atomic():
        ref = resolve(eid, user)
        if ref.entity is None:
            raise NgsiError("OperationNotSupported", f"{eid}: areas are read-only here", 422)
        entity = ref.entity
        _check_writer(user, entity)
        event_record(
            type="ngsild.entity_deleted",
            area_id=entity.area_id,
            actor_id=user.id,
            object_ref=f"datahub:entity:{entity.pk}",
            payload={"id": eid, "type": entity.attributes.get("ngsi_type")},
        )
        entity.delete()


def entity_replace(*, user, eid: str, etype: str, attrs: dict) -> None:
    """Batch upsert without ?options=update: the entity's attributes become exactly these."""
    with transaction.atomic():
        ref = resolve(eid, user)
        entity = Entity.objects.select_for_update().get(pk=ref.entity.pk) if ref.entity else None
        if entity is None:
            raise NgsiError("OperationNotSupported", f"{eid}: areas are read-only here", 422)
        _check_writer(user, entity)
        entity.attributes = {**entity.attributes, "ngsi": {}, "ngsi_type": etype}
        _apply(entity, attrs)
        entity.save()
        _changed(entity, "updated", user, list(attrs))


def batch_upsert(*, user, items, update: bool) -> tuple[list[str], list[str], list[dict]]:
    """(created ids, updated ids, errors [{"entityId", "error": problem}]).

    The bulk path: entities the client named by its own ids (the usual case) are looked up in one
    query, created with one INSERT per table and updated with one UPDATE, with one event INSERT
    and one notification task for the whole batch (per-entity writes managed ~150 entities/s; this
    keeps 1,000/s). Ids of registry objects (`urn:ngsi-ld:Device:…`, `…:AdministrativeArea:…`,
    `urn:ngsi-ld:<Type>:<pk>`) go through the per-entity path, which knows their rules. A bad
    entity is reported on its own and never stops the others; the same id twice is applied in order.
    """
    if not isinstance(items, list):
        raise bad("a batch operation takes a JSON array of entities")
    if len(items) > 1000:
        raise bad("a batch holds at most 1,000 entities")
    created, updated, errors = [], [], []
    cleaned: dict[str, tuple[str, dict]] = {}
    slow: list[dict] = []
    for body in items:
        eid = body.get("id") if isinstance(body, dict) else None
        try:
            eid, etype, attrs = clean_entity(body)
        except NgsiError as e:
            errors.append({"entityId": eid, "error": problem(e)})
            continue
        if _registry_id(eid):
            slow.append(body)
        elif eid in cleaned:
            prev_type, prev = cleaned[eid]
            cleaned[eid] = (etype, {**prev, **attrs} if update else attrs)
        else:
            cleaned[eid] = (etype, attrs)
    if cleaned:
        try:
            _check_writer(user)
        except NgsiError as e:
            errors += [{"entityId": eid, "error": problem(e)} for eid in cleaned]
            cleaned = {}
    if cleaned:
        c, u, errs = _bulk_upsert(user=user, items=cleaned, update=update)
        created += c
        updated += u
        errors += errs
    for body in slow:
        eid = body.get("id")
        try:
            c, u = _upsert_one(user=user, body=body, update=update)
            created += c
            updated += u
        except NgsiError as e:
            errors.append({"entityId": eid, "error": problem(e)})
    return created, updated, errors


def _registry_id(eid: str) -> bool:
    m = _URN.match(eid)
    if not m:
        return False
    kind, local = m.groups()
    return kind in ("Device", AREA_TYPE) or (local.isdigit() and kind in DATAHUB_TYPE)


def _upsert_one(*, user, body, update: bool) -> tuple[list[str], list[str]]:
    eid, etype, attrs = clean_entity(body)
    try:
        resolve(eid, user)
        exists = True
    except NgsiError as e:
        if e.kind != "ResourceNotFound":
            raise
        exists = False
    if not exists:
        entity_create(user=user, body=body)
        return [eid], []
    if update:
        entity_update(user=user, eid=eid, attrs_body=attrs, append=True)
    else:
        entity_replace(user=user, eid=eid, etype=etype, attrs=attrs)
    return [], [eid]


def _bulk_upsert(*, user, items: dict[str, tuple[str, dict]], update: bool):
    created, updated, errors = [], [], []
    events: list[dict] = []
    changed_pks: list[int] = []
    changed_attrs: set[str] = set()
    with transaction.atomic():
        ids = list(items)
        taken = dict(EntityIdentifier.objects.filter(scheme=SCHEME, value__in=ids).values_list("value", "entity_id"))
        visible = {
            e.pk: e
            for e in entities_visible_to(user)
            .select_for_update(of=("self",))
            .filter(pk__in=list(taken.values()))
            .select_related(None)
        }
        to_create: list[tuple[str, Entity, list[str]]] = []
        to_update: list[Entity] = []
        for eid, (etype, attrs) in items.items():
            if eid in taken:
                entity = visible.get(taken[eid])
                if entity is None:
                    # Someone else's (or a merged) entity holds the id: the same answer a create gives.
                    errors.append({"entityId": eid, "error": problem(_exists(eid))})
                    continue
                try:
                    _check_writer(user, entity)
                except NgsiError as e:
                    errors.append({"entityId": eid, "error": problem(e)})
                    continue
                if update:
                    _apply(entity, attrs)
                else:
                    entity.attributes = {**entity.attributes, "ngsi": {}, "ngsi_type": etype}
                    _apply(entity, attrs)
                to_update.append(entity)
                updated.append(eid)
                events.append(_event(entity, "updated", user, list(attrs), eid=eid, etype=etype))
            else:
                if etype in ("Device", AREA_TYPE):
                    errors.append(
                        {
                            "entityId": eid,
                            "error": problem(
                                NgsiError(
                                    "OperationNotSupported",
                                    f"type {etype}: devices are registered through the IoT API and areas through "
                                    "the area import",
                                    422,
                                )
                            ),
                        }
                    )
                    continue
                entity = Entity(
                    type=DATAHUB_TYPE.get(etype, Entity.Type.OTHER),
                    name=eid[-300:],
                    department_id=getattr(user, "department_id", None),
                    attributes={"ngsi_id": eid, "ngsi_type": etype, "ngsi": {}},
                )
                _apply(entity, attrs)
                to_create.append((eid, entity, list(attrs)))
                created.append(eid)
        if to_create:
            _copy_create(to_create)
            for eid, e, attrs in to_create:
                events.append(_event(e, "created", user, attrs, eid=eid, etype=e.attributes["ngsi_type"]))
        if to_update:
            _bulk_update(to_update)
        new = [e for _eid, e, _a in to_create]
        saved = new + to_update
        changed_pks = [e.pk for e in saved]
        if saved:
            # What Model.save() would have announced, once: caches built from the entity table
            # (the text matchers) are dropped by the first signal. One signal per row cost ~7 ms.
            post_save.send(sender=Entity, instance=saved[0], created=saved[0] in new, raw=False, using="default")
            if len(saved) <= INLINE_INDEX_MAX:
                for e in saved[1:]:
                    search_push(Entity, e.pk)
            else:
                # Big batches are indexed for search by a task after commit: indexing 1,000
                # entities took ~60% of the request (the index is derived data, like a cache).
                from .tasks import ngsild_search_index

                rest = changed_pks[1:]
                transaction.on_commit(lambda: ngsild_search_index.delay(rest))
        for ev in events:
            changed_attrs.update(ev["payload"]["attributes"])
        if events:
            _events_copy(events)
        notify_after_commit(entity_pks=changed_pks, attrs=sorted(changed_attrs))
    return created, updated, errors


def _copy_create(rows: list[tuple[str, Entity, list[str]]]) -> None:
    """INSERT the new entities and their `ngsi-ld` identifiers with COPY (ids drawn from the
    sequence first, so the objects know their pks): Django's bulk_create spent ~1 ms per row
    preparing values, COPY of a CSV buffer ~0.05 ms."""
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('datahub_entity', 'id')) FROM generate_series(1, %s)", [len(rows)]
        )
        ids = [r[0] for r in cur.fetchall()]
        ents, idents = io.StringIO(), io.StringIO()
        w_ent, w_id = csv.writer(ents, lineterminator="\n"), csv.writer(idents, lineterminator="\n")
        for pk, (eid, e, _attrs) in zip(ids, rows, strict=True):
            e.pk, e.created_at, e.updated_at = pk, now, now
            e._state.adding, e._state.db = False, "default"
            w_ent.writerow(
                [
                    pk,
                    e.type,
                    e.name,
                    e.name_en,
                    e.normalized_name,
                    e.geometry.hexewkb.decode() if e.geometry is not None else r"\N",
                    e.area_id if e.area_id is not None else r"\N",
                    e.department_id if e.department_id is not None else r"\N",
                    json.dumps(e.attributes, ensure_ascii=False),
                    r"\N",
                    now.isoformat(),
                    now.isoformat(),
                ]
            )
            w_id.writerow([pk, SCHEME, eid, 1.0])
        ents.seek(0)
        idents.seek(0)
        raw = cur.cursor
        raw.copy_expert(
            "COPY datahub_entity (id, type, name, name_en, normalized_name, geometry, area_id, department_id, "
            "attributes, merged_into_id, created_at, updated_at) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            ents,
        )
        raw.copy_expert(
            "COPY datahub_entityidentifier (entity_id, scheme, value, confidence) FROM STDIN "
            "WITH (FORMAT csv, NULL '\\N')",
            idents,
        )


def _bulk_update(entities: list[Entity]) -> None:
    """One UPDATE … FROM (VALUES …) for the changed entities (Django's bulk_update builds a CASE
    per field and row: ~4 ms per entity here)."""
    from psycopg2.extras import execute_values

    now = timezone.now()
    rows = []
    for e in entities:
        e.updated_at = now  # what the objects show; the rows get the transaction's time
        geom = e.geometry.hexewkb.decode() if e.geometry is not None else None
        rows.append((e.pk, json.dumps(e.attributes, ensure_ascii=False), e.name, geom))
    with connection.cursor() as cur:
        execute_values(
            cur.cursor,
            # The transaction's now() as updated_at (auto_now's value for every row of the batch).
            "UPDATE datahub_entity AS e SET attributes = v.attributes::jsonb, name = v.name, "
            "geometry = v.geometry::geometry, updated_at = now() "
            "FROM (VALUES %s) AS v(id, attributes, name, geometry) WHERE e.id = v.id",
            rows,
            template=None,
            page_size=1000,
        )


def _events_copy(events: list[dict]) -> None:
    """The batch's event-log rows with COPY, then one `datahub.event_recorded` summary per type, as
    the facade's event_record_many announces them (its bulk_create cost ~1 ms per event here)."""
    now = timezone.now().isoformat()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for e in events:
        w.writerow(
            [
                e["type"],
                now,
                now,
                e["object_ref"][:100],
                json.dumps(e["payload"], ensure_ascii=False),
                e["actor_id"] if e["actor_id"] is not None else r"\N",
                e["area_id"] if e["area_id"] is not None else r"\N",
            ]
        )
    buf.seek(0)
    with connection.cursor() as cur:
        cur.cursor.copy_expert(
            "COPY datahub_event (type, occurred_at, recorded_at, object_ref, payload, actor_id, area_id) "
            "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            buf,
        )
    for type_ in sorted({e["type"] for e in events}):
        bus.publish(
            "datahub.event_recorded",
            {"event_id": None, "type": type_, "area_id": None, "bulk": True, "occurred_at": now},
        )


def _exists(eid: str) -> NgsiError:
    return NgsiError("AlreadyExists", f"{eid}: an entity with this id already exists", 409)


def _event(entity: Entity, what: str, user, attrs: list[str], *, eid: str, etype: str) -> dict:
    return {
        "type": f"ngsild.entity_{what}",
        "area_id": entity.area_id,
        "actor_id": getattr(user, "id", None),
        "object_ref": f"datahub:entity:{entity.pk}",
        "payload": {"id": eid, "type": etype, "attributes": attrs[:50]},
    }


def problem(e: NgsiError) -> dict:
    return {"type": f"https://uri.etsi.org/ngsi-ld/errors/{e.kind}", "title": e.kind, "detail": e.detail}


def _changed(entity: Entity, what: str, user, attrs: list[str]) -> None:
    eid = entity.attributes.get("ngsi_id")
    event_record(
        type=f"ngsild.entity_{what}",
        area_id=entity.area_id,
        actor_id=getattr(user, "id", None),
        object_ref=f"datahub:entity:{entity.pk}",
        payload={"id": eid, "type": entity.attributes.get("ngsi_type"), "attributes": attrs[:50]},
    )
    notify_after_commit(entity_pks=[entity.pk], attrs=attrs)


# --- subscriptions -----------------------------------------------------------------------------------


def _clean_subscription(body, *, partial: bool = False) -> dict:
    if not isinstance(body, dict):
        raise bad("a subscription must be a JSON object")
    out: dict = {}
    if "entities" in body or not partial:
        entities = body.get("entities")
        watched = body.get("watchedAttributes")
        if entities is None and not watched:
            raise bad("entities: a subscription needs `entities` or `watchedAttributes`")
        if entities is not None:
            if not isinstance(entities, list) or not entities:
                raise bad("entities: a non-empty array of {type, id?, idPattern?}")
            for sel in entities:
                if not isinstance(sel, dict) or not isinstance(sel.get("type"), str):
                    raise bad("entities: each selector needs a `type`")
                if "idPattern" in sel:
                    try:
                        re.compile(str(sel["idPattern"]))
                    except re.error:
                        raise bad(f"entities: idPattern {sel['idPattern']!r} is not a regular expression") from None
            out["entities"] = [{k: v for k, v in s.items() if k in ("type", "id", "idPattern")} for s in entities]
    if "watchedAttributes" in body:
        watched = body["watchedAttributes"]
        if not isinstance(watched, list) or not all(isinstance(a, str) for a in watched):
            raise bad("watchedAttributes: an array of attribute names")
        out["watched_attributes"] = watched
    if "q" in body:
        if not isinstance(body["q"], str):
            raise bad("q: a string")
        query.parse(body["q"])
        out["q"] = body["q"]
    if "notification" in body or not partial:
        notification = body.get("notification")
        if not isinstance(notification, dict):
            raise bad("notification: required, with an endpoint")
        endpoint = notification.get("endpoint")
        uri = endpoint.get("uri") if isinstance(endpoint, dict) else None
        if not isinstance(uri, str) or not re.match(r"^https?://[^\s/]+", uri) or len(uri) > 1000:
            raise bad("notification.endpoint.uri: an http(s) URL")
        fmt = notification.get("format", "normalized")
        if fmt not in ("normalized", "keyValues", "concise"):
            raise bad("notification.format: normalized or keyValues")
        attrs = notification.get("attributes", [])
        if not isinstance(attrs, list):
            raise bad("notification.attributes: an array of attribute names")
        out["notification"] = {
            "attributes": attrs,
            "format": fmt,
            "endpoint": {"uri": uri, "accept": endpoint.get("accept", "application/json")},
        }
    if "expiresAt" in body:
        at = parse_when(body["expiresAt"]) if body["expiresAt"] else None
        if body["expiresAt"] and at is None:
            raise bad("expiresAt: an ISO 8601 date-time with a time zone")
        out["expires_at"] = at
    if "throttling" in body:
        t = body["throttling"]
        if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t <= 86400:
            raise bad("throttling: seconds between 0 and 86400")
        out["throttling"] = t
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise bad("isActive: true or false")
        out["is_active"] = body["isActive"]
    if "description" in body:
        out["description"] = str(body["description"])[:500]
    return out


def subscription_create(*, user, body) -> NgsiSubscription:
    fields = _clean_subscription(body)
    sid = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    if not isinstance(sid, str) or ":" not in sid or len(sid) > 255:
        raise bad("id: a subscription id must be a URI")
    try:
        with transaction.atomic():
            sub = NgsiSubscription.objects.create(sid=sid, owner=user, **fields)
    except IntegrityError:
        raise NgsiError("AlreadyExists", f"{sid}: a subscription with this id already exists", 409) from None
    cache.delete(SUBSCRIBED_TYPES_KEY)
    return sub


def subscription_update(*, sub: NgsiSubscription, body) -> NgsiSubscription:
    for key, value in _clean_subscription(body, partial=True).items():
        setattr(sub, key, value)
    sub.save()
    cache.delete(SUBSCRIBED_TYPES_KEY)
    return sub


def subscription_delete(*, sub: NgsiSubscription) -> None:
    sub.delete()
    cache.delete(SUBSCRIBED_TYPES_KEY)


def subscribed_types() -> set[str]:
    """NGSI-LD types some active subscription watches (cached: the ingest path asks per batch)."""
    types = cache.get(SUBSCRIBED_TYPES_KEY)
    if types is None:
        types = set()
        for entities in NgsiSubscription.objects.filter(is_active=True).values_list("entities", flat=True):
            types.update(s.get("type") for s in entities or [] if isinstance(s, dict))
        cache.set(SUBSCRIBED_TYPES_KEY, sorted(t for t in types if t), 10)
    return set(types)


def notify_after_commit(*, entity_pks: list[int], attrs: list[str] | None = None) -> None:
    """Queue one notification task for these entities after commit; never blocks the writer."""
    if not entity_pks:
        return
    from .tasks import ngsild_notify

    pks = sorted(set(entity_pks))
    transaction.on_commit(lambda: ngsild_notify.delay(pks, attrs or []))


def matches(sub: NgsiSubscription, rendered: dict, changed: list[str]) -> bool:
    selectors = sub.entities or [{}]
    ok = False
    for sel in selectors:
        if sel.get("type") and sel["type"] != rendered["type"]:
            continue
        if sel.get("id") and sel["id"] != rendered["id"]:
            continue
        if sel.get("idPattern") and not re.search(str(sel["idPattern"]), rendered["id"]):
            continue
        ok = True
        break
    if not ok:
        return False
    if sub.watched_attributes and changed and not set(sub.watched_attributes) & set(changed):
        return False
    if sub.q:
        try:
            return query.parse(sub.q)(rendered)
        except NgsiError:
            return False
    return True


def notification_for(sub: NgsiSubscription, entities: list[Ref], now: datetime) -> dict:
    fmt = sub.notification.get("format", "normalized")
    attrs = sub.notification.get("attributes") or None
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": sub.sid,
        "notifiedAt": now.isoformat().replace("+00:00", "Z"),
        "data": [render(ref, attrs=attrs, key_values=fmt == "keyValues") for ref in entities],
    }


def subscription_record(*, sub_id: int, ok: bool, error: str = "") -> None:
    now = timezone.now()
    fields = {"last_notification": now, "times_sent": F("times_sent") + 1}
    if ok:
        fields["last_success"] = now
    else:
        fields.update(last_failure=now, last_error=error[:500])
    NgsiSubscription.objects.filter(id=sub_id).update(**fields)
