"""The datahub's own searchable items: areas, datasets and their records, entities, devices and
datastreams, internet documents, alerts. Each `<kind>_items(qs)` turns rows into index items;
the providers yield all of them for `search_reindex`, and `setup()`'s signal receivers push one
after a save (bulk paths — imports, ingest — call `reindex_*` or rely on the nightly reindex).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from django.urls import reverse

from ..models import Alert, Area, Dataset, DatasetRecord, Datastream, Device, Document, Entity

CHUNK = 2000
PLACE_TYPES = {"road", "park", "building", "district"}
ENTITY_KIND = {"enterprise": "enterprise", "facility": "facility"}


def _point(geom) -> tuple[float | None, float | None]:
    if geom is None:
        return None, None
    p = geom if geom.geom_type == "Point" else geom.point_on_surface
    return p.x, p.y


def area_items(qs) -> Iterator[dict]:
    for a in qs.only("id", "code", "name", "name_en", "level", "parent_id", "centroid"):
        lon, lat = _point(a.centroid)
        yield {
            "kind": "area",
            "key": str(a.id),
            "title": a.name,
            "title_en": a.name_en,
            "identifiers": a.code,
            "url": reverse("datahub:area-browser") + f"?area={a.id}",
            "area_id": a.id,
            "lon": lon,
            "lat": lat,
            "level": "public",
            "facets": {"type": a.level},
        }


def dataset_items(qs) -> Iterator[dict]:
    for d in qs.select_related("owner_department"):
        yield {
            "kind": "dataset",
            "key": str(d.id),
            "title": d.title,
            "body": f"{d.description} {' '.join(d.tags)}",
            "identifiers": d.slug,
            "url": reverse("datahub:dataset-detail", args=[d.slug]),
            "time": d.updated_at,
            "department_id": d.owner_department_id,
            "level": d.level,
            "facets": {"type": d.update_frequency, "category": (d.tags or [""])[0]},
        }


def _record_title(data: dict, fallback: str) -> str:
    for key in ("name", "名称", "title", "标题", "企业名称", "单位名称", "设施名称"):
        v = data.get(key)
        if isinstance(v, str) and v.strip():
            return v.strip()
    for v in data.values():
        if isinstance(v, str) and v.strip() and not v.strip().replace(".", "").isdigit():
            return v.strip()[:200]
    return fallback


def record_items(qs) -> Iterator[dict]:
    datasets = {d.id: d for d in Dataset.objects.all()}
    for r in (
        qs.filter(version_to__isnull=True)
        .only("id", "dataset_id", "key", "data", "geom", "area_id")
        .iterator(chunk_size=CHUNK)
    ):
        d = datasets.get(r.dataset_id)
        if d is None:
            continue
        data = r.data if isinstance(r.data, dict) else {}
        lon, lat = _point(r.geom)
        title = _record_title(data, f"{d.title} #{r.key}")
        yield {
            "kind": "record",
            "key": str(r.id),
            "title": title,
            "body": " ".join(f"{k}: {v}" for k, v in data.items() if v not in (None, ""))[:2000] + f" {d.title}",
            "identifiers": r.key,
            "url": reverse("datahub:dataset-detail", args=[d.slug]) + f"?q={r.key}",
            "time": d.updated_at,
            "area_id": r.area_id,
            "lon": lon,
            "lat": lat,
            "department_id": d.owner_department_id,
            "level": d.level,
            "facets": {"dataset": d.slug},
        }


def entity_items(qs) -> Iterator[dict]:
    for e in qs.filter(merged_into__isnull=True).exclude(type="device").prefetch_related("identifiers"):
        lon, lat = _point(e.geometry)
        kind = ENTITY_KIND.get(e.type) or ("place" if e.type in PLACE_TYPES else "entity")
        attrs = e.attributes if isinstance(e.attributes, dict) else {}
        yield {
            "kind": kind,
            "key": str(e.id),
            "title": e.name,
            "title_en": e.name_en,
            "body": " ".join(str(v) for v in attrs.values() if isinstance(v, str | int | float))[:1000],
            "identifiers": " ".join(i.value for i in e.identifiers.all()),
            "url": reverse("datahub:entity-detail", args=[e.id]),
            "time": e.updated_at,
            "area_id": e.area_id,
            "lon": lon,
            "lat": lat,
            "department_id": e.department_id,
            "level": "internal",
            "facets": {"type": e.type, "category": str(attrs.get("category", ""))},
        }


def device_items(qs) -> Iterator[dict]:
    for d in qs.select_related("entity"):
        lon, lat = _point(d.point)
        yield {
            "kind": "device",
            "key": str(d.id),
            "title": d.entity.name,
            "title_en": d.entity.name_en or d.get_device_type_display(),
            "body": f"{d.get_device_type_display()} {d.model}",
            "identifiers": d.key,
            "url": reverse("datahub:iot-device", args=[d.id]),
            "time": d.created_at,
            "area_id": d.area_id,
            "lon": lon,
            "lat": lat,
            "department_id": d.owner_department_id,
            "level": "internal",
            "facets": {"type": d.device_type, "category": d.device_type},
        }


def datastream_items(qs) -> Iterator[dict]:
    for s in qs.select_related("device", "device__entity"):
        lon, lat = _point(s.device.point)
        yield {
            "kind": "datastream",
            "key": str(s.id),
            "title": f"{s.device.entity.name} · {s.name or s.observed_property}",
            "title_en": f"{s.device.entity.name_en or s.device.key} · {s.observed_property}",
            "body": f"{s.observed_property} {s.unit}",
            "identifiers": f"{s.device.key} {s.metric}",
            "url": reverse("datahub:iot-device", args=[s.device_id]),
            "time": s.created_at,
            "area_id": s.device.area_id,
            "lon": lon,
            "lat": lat,
            "department_id": s.device.owner_department_id,
            "level": "internal",
            "facets": {"metric": s.metric.replace("_", "").replace(".", "").lower(), "category": s.device.device_type},
        }


def document_items(qs) -> Iterator[dict]:
    for d in qs.only(
        "id", "title", "body", "url", "published_at", "area_id", "language", "topic", "sentiment"
    ).iterator(chunk_size=CHUNK):
        en = d.language == "en"
        yield {
            "kind": "document",
            "key": str(d.id),
            "title": d.title or d.body[:60] or f"#{d.id}",
            "body": "" if en else d.body[:3000],
            "body_en": d.body[:3000] if en else "",
            "url": reverse("datahub-document", args=[d.id]),
            "time": d.published_at,
            "area_id": d.area_id,
            "level": "internal",
            "facets": {"category": d.topic, "type": d.sentiment},
        }


def alert_items(qs) -> Iterator[dict]:
    for a in qs.only(
        "id", "title", "description", "area_id", "department_id", "severity", "status", "raised_at", "assignee_id"
    ):
        yield {
            "kind": "alert",
            "key": str(a.id),
            "title": a.title,
            "body": a.description,
            "url": reverse("monitoring:console") + f"?alert={a.id}",
            "time": a.raised_at,
            "area_id": a.area_id,
            "department_id": a.department_id,
            # Alerts without a department are every staff member's (monitoring's alerts_visible).
            "level": "restricted" if a.department_id else "internal",
            "grants": [f"user:{a.assignee_id}"] if a.assignee_id else [],
            "facets": {"type": a.severity, "state": "open" if a.status == "active" else "done"},
        }


def providers() -> list[tuple[str, callable, str, str]]:
    return [
        ("area", lambda: area_items(Area.objects.order_by("id")), "区域", "Area"),
        ("dataset", lambda: dataset_items(Dataset.objects.order_by("id")), "数据集", "Dataset"),
        ("record", lambda: record_items(DatasetRecord.objects.order_by("id")), "数据记录", "Dataset record"),
        (
            "entity",
            lambda: entity_items(
                Entity.objects.exclude(type__in=list(ENTITY_KIND) + sorted(PLACE_TYPES)).order_by("id")
            ),
            "实体",
            "Entity",
        ),
        (
            "enterprise",
            lambda: entity_items(Entity.objects.filter(type="enterprise").order_by("id")),
            "企业",
            "Enterprise",
        ),
        ("facility", lambda: entity_items(Entity.objects.filter(type="facility").order_by("id")), "设施", "Facility"),
        ("place", lambda: entity_items(Entity.objects.filter(type__in=PLACE_TYPES).order_by("id")), "地点", "Place"),
        ("device", lambda: device_items(Device.objects.order_by("id")), "设备", "Device"),
        ("datastream", lambda: datastream_items(Datastream.objects.order_by("id")), "数据流", "Datastream"),
        ("document", lambda: document_items(Document.objects.order_by("id")), "互联网文档", "Internet document"),
        ("alert", lambda: alert_items(Alert.objects.order_by("id")), "告警", "Alert"),
    ]


ITEMS_OF_MODEL = {
    Area: area_items,
    Dataset: dataset_items,
    Entity: entity_items,
    Device: device_items,
    Document: document_items,
    Alert: alert_items,
}


# Models of other apps whose rows are items of a kind (facade.search_provider_register(model=,
# items=)): {model: [(kind, items(ids))]}. Their saves and deletes re-index the rows after commit.
TRACKED: dict[type, list[tuple[str, object]]] = {}


def track_register(*, model, kind: str, items) -> None:
    from django.db.models.signals import post_delete, post_save

    entries = TRACKED.setdefault(model, [])
    if any(k == kind for k, _f in entries):
        return
    entries.append((kind, items))

    def _changed(sender, instance, raw=False, **_kw):
        if not raw:
            push_instance(sender, instance.pk)

    uid = f"search-track-{model._meta.label}"
    post_save.connect(_changed, sender=model, weak=False, dispatch_uid=uid + "-save")
    post_delete.connect(_changed, sender=model, weak=False, dispatch_uid=uid + "-delete")


_pending = threading.local()


def push_instance(model, pk: int) -> None:
    """Re-index a saved (or deleted) row after its transaction commits. Rows saved in one
    transaction are indexed together (one query per model and one COPY), so an import of 1,000
    entities costs one index write, not 1,000."""
    from django.db import connection, transaction

    pending = getattr(_pending, "rows", None)
    if pending is None:
        pending = _pending.rows = {}
    pending.setdefault(model, set()).add(pk)
    if not connection.in_atomic_block:
        _flush()
    else:
        # One callback per save: after a rollback the pending rows go with the next commit, and
        # every callback but the first finds nothing left to do.
        transaction.on_commit(_flush)


def _flush() -> None:
    from .services import search_index_remove, search_index_upsert

    rows, _pending.rows = getattr(_pending, "rows", None) or {}, {}
    for model, pks in rows.items():
        for start in range(0, len(pks), CHUNK):
            chunk = sorted(pks)[start : start + CHUNK]
            if model in ITEMS_OF_MODEL:
                items = list(ITEMS_OF_MODEL[model](model.objects.filter(pk__in=chunk)))
                if items:
                    search_index_upsert(items)
            for kind, items_of in TRACKED.get(model, []):
                # What the app calls searchable now: the rest of the chunk (deleted, unpublished,
                # withdrawn) leaves the index.
                items = [i for i in items_of(chunk) if i.get("kind") == kind]
                if items:
                    search_index_upsert(items)
                gone = {str(pk) for pk in chunk} - {str(i.get("key")) for i in items}
                if gone:
                    search_index_remove(kind=kind, keys=sorted(gone))


def records_reindex(dataset_id: int) -> int:
    """A dataset's current records in the index, the records of older versions out (after an
    import, or a change of the dataset's title, level or owner that its records carry)."""
    from django.db import connection

    from .services import TABLE, search_index_upsert

    n = 0
    keys: list[str] = []
    batch: list[dict] = []
    for item in record_items(DatasetRecord.objects.filter(dataset_id=dataset_id).order_by("id")):
        batch.append(item)
        keys.append(item["key"])
        if len(batch) >= CHUNK:
            n += search_index_upsert(batch)
            batch = []
    if batch:
        n += search_index_upsert(batch)
    slug = Dataset.objects.filter(id=dataset_id).values_list("slug", flat=True).first()
    with connection.cursor() as cur:
        cur.execute(
            f"DELETE FROM {TABLE} WHERE kind = 'record' AND facets->>'dataset' = %s"  # noqa: S608
            " AND NOT (key = ANY(%s))",
            [slug or "", keys],
        )
    return n


def on_dataset_updated(payload: dict) -> None:
    """Domain event `datahub.dataset_updated` (an import committed a version): fresh records."""
    records_reindex(int(payload["dataset_id"]))


def records_remove(slug: str) -> None:
    from django.db import connection, transaction

    from .services import TABLE

    def _delete() -> None:
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE kind = 'record' AND facets->>'dataset' = %s", [slug])  # noqa: S608

    transaction.on_commit(_delete) if connection.in_atomic_block else _delete()
