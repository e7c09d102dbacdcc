"""Entity resolution of dataset records: each current row that names a thing attaches to one entity.

A dataset's `entity_mapping` says which column holds the name (and optionally an English name and
an identifier such as a licence number). Linking (`dataset_entities_link`, run by Celery after an
import commits, or on demand) walks the current version's unlinked rows in id order, in chunks:
  1. set-based: rows whose identifier is already known (scheme + value) take that entity with
     confidence 1.0 in one UPDATE … FROM join (no Python per row);
  2. the rest go through `entity_resolve_many` (identifier, then normalised name + place: the row's
     point geometry and area), and their entity and confidence are written with one
     UPDATE … FROM (VALUES …) per chunk.
Rows already linked and rows whose name is empty are not touched, so running it twice changes
nothing. Each chunk is its own transaction and locks its rows (FOR UPDATE SKIP LOCKED), so two
concurrent runs split the work instead of resolving the same rows twice.
"""

from __future__ import annotations

import logging
import time

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from datahub.core.models import Entity, EntityIdentifier, Run
from datahub.core.services.entities import MAX_RESOLVE_BATCH, entity_resolve_many
from datahub.datasets.models import Dataset, DatasetRecord
from datahub.datasets.services.datasets import dataset_run_start

log = logging.getLogger(__name__)

CHUNK = MAX_RESOLVE_BATCH  # 500 rows: the most one entity_resolve_many call takes
MAPPING_KEYS = ("type", "name_field", "name_en_field", "id_field", "id_scheme")


class EntityMappingError(ValueError):
    """A bad mapping; `field` names the mapping key at fault (for a 400 naming it)."""

    def __init__(self, message: str, *, field: str):
        self.field = field
        super().__init__(message)


def entity_mapping_clean(*, mapping: dict | None, schema_names: list[str] | set[str]) -> dict:
    """Validate a mapping against the dataset's columns; {} or None means "do not link"."""
    if not mapping:
        return {}
    if not isinstance(mapping, dict):
        raise EntityMappingError(_("The entity mapping must be a JSON object."), field="entity_mapping")
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise EntityMappingError(
            _("Entity mapping: unknown key %(key)r (allowed: %(allowed)s).")
            % {"key": unknown[0], "allowed": ", ".join(MAPPING_KEYS)},
            field=f"entity_mapping.{unknown[0]}",
        )
    etype = mapping.get("type")
    if etype not in Entity.Type.values:
        raise EntityMappingError(
            _("Entity mapping: type must be one of %(types)s.") % {"types": ", ".join(Entity.Type.values)},
            field="entity_mapping.type",
        )
    names = set(schema_names)
    out: dict = {"type": etype}
    for key, required in (("name_field", True), ("name_en_field", False), ("id_field", False)):
        value = mapping.get(key) or None
        if value is None:
            if required:
                raise EntityMappingError(
                    _("Entity mapping: name_field is required."), field="entity_mapping.name_field"
                )
            out[key] = None
            continue
        if not isinstance(value, str) or value not in names:
            raise EntityMappingError(
                _("Entity mapping: %(key)s %(value)r is not a column of this dataset.") % {"key": key, "value": value},
                field=f"entity_mapping.{key}",
            )
        out[key] = value
    scheme = (mapping.get("id_scheme") or "").strip() if isinstance(mapping.get("id_scheme") or "", str) else None
    if scheme is None or len(scheme) > 64:
        raise EntityMappingError(
            _("Entity mapping: id_scheme must be text of at most 64 characters."), field="entity_mapping.id_scheme"
        )
    if out["id_field"] and not scheme:
        raise EntityMappingError(
            _("Entity mapping: id_scheme is required with id_field."), field="entity_mapping.id_scheme"
        )
    out["id_scheme"] = scheme or None
    return out


def dataset_entity_mapping_set(*, dataset: Dataset, mapping: dict | None) -> Dataset:
    """Store a validated mapping (columns: the dataset's schema)."""
    names = list(dataset.fields.values_list("name", flat=True))
    dataset.entity_mapping = entity_mapping_clean(mapping=mapping, schema_names=names)
    dataset.save(update_fields=["entity_mapping", "updated_at"])
    return dataset


def dataset_entities_link_queue(*, dataset: Dataset, user_id: int | None = None) -> bool:
    """Queue linking after the current transaction commits; False when the dataset has no mapping."""
    if not dataset.entity_mapping:
        return False
    from datahub.datasets.tasks import dataset_entities_link_run

    dataset_id = dataset.id
    transaction.on_commit(lambda: dataset_entities_link_run.delay(dataset_id, user_id))
    return True


def _push(run: Run, dataset: Dataset, user_id: int | None, stats: dict, status: str) -> None:
    if not user_id:
        return
    from cityos.realtime import publish_to_user

    try:
        publish_to_user(
            user_id,
            "datahub.dataset_entity_link",
            {
                "dataset": dataset.slug,
                "run_id": run.id,
                "status": status,
                "progress": run.progress,
                **stats,
                "title": dataset.title,
            },
        )
    except Exception:  # noqa: BLE001 - a push is best effort; the run row holds the truth
        log.warning("could not push entity-link progress for dataset %s", dataset.id, exc_info=True)


def dataset_entities_link(*, dataset_id: int, user_id: int | None = None) -> dict:
    """Link the current version's unlinked rows to entities; returns counts. Idempotent."""
    dataset = Dataset.objects.select_related("source").get(id=dataset_id)
    mapping = dataset.entity_mapping
    stats = {"candidates": 0, "by_identifier": 0, "resolved": 0, "created": 0}
    if not mapping:
        return stats
    rec = DatasetRecord._meta.db_table
    name_f, name_en_f = mapping["name_field"], mapping.get("name_en_field")
    id_f, scheme = mapping.get("id_field"), mapping.get("id_scheme")
    base_where = (
        "r.dataset_id = %s AND r.version_to IS NULL AND r.entity_id IS NULL "
        "AND btrim(coalesce(r.data ->> %s, '')) <> ''"
    )
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {rec} r WHERE {base_where}", [dataset_id, name_f])  # noqa: S608
        total = cur.fetchone()[0]
    stats["candidates"] = total
    run = dataset_run_start(dataset=dataset, triggered_by_id=user_id, rows_read=total)
    if total == 0:
        _finish(run, dataset, user_id, stats, Run.Status.SUCCEEDED)
        return stats
    try:
        # 1. Known identifiers, set-based: one join for the whole dataset.
        if id_f and scheme:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(
                    f"UPDATE {rec} r SET entity_id = coalesce(e.merged_into_id, e.id), entity_confidence = 1.0 "  # noqa: S608
                    f"FROM {EntityIdentifier._meta.db_table} i JOIN {Entity._meta.db_table} e ON e.id = i.entity_id "
                    f"WHERE {base_where} AND i.scheme = %s AND i.value = btrim(r.data ->> %s)",
                    [dataset_id, name_f, scheme, id_f],
                )
                stats["by_identifier"] = cur.rowcount
        # 2. The rest, chunk by chunk through the resolver.
        done, last_id, last_push = stats["by_identifier"], 0, 0.0
        while True:
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute(
                        f"SELECT r.id, r.data ->> %s, r.data ->> %s, r.data ->> %s, r.area_id, "  # noqa: S608
                        "ST_X(ST_PointOnSurface(r.geom)), ST_Y(ST_PointOnSurface(r.geom)) "
                        f"FROM {rec} r WHERE {base_where} AND r.id > %s ORDER BY r.id LIMIT %s "
                        "FOR UPDATE OF r SKIP LOCKED",
                        [name_f, name_en_f or "", id_f or "", dataset_id, name_f, last_id, CHUNK],
                    )
                    rows = cur.fetchall()
                if not rows:
                    break
                last_id = rows[-1][0]
                resolutions = entity_resolve_many(
                    rows=[_resolve_row(mapping, r) for r in rows], source_id=dataset.source_id
                )
                values = [(r[0], res.entity_id, res.confidence) for r, res in zip(rows, resolutions, strict=True)]
                with connection.cursor() as cur:
                    placeholders = ",".join(["(%s::bigint, %s::bigint, %s::double precision)"] * len(values))
                    cur.execute(
                        f"UPDATE {rec} r SET entity_id = v.entity_id, entity_confidence = v.conf "  # noqa: S608
                        f"FROM (VALUES {placeholders}) AS v(id, entity_id, conf) WHERE r.id = v.id",
                        [x for row in values for x in row],
                    )
                stats["resolved"] += len(values)
                stats["created"] += sum(1 for res in resolutions if res.created)
            done += len(rows)
            run.progress = round(min(done / total, 1.0), 3)
            Run.objects.filter(id=run.id).update(progress=run.progress, rows_stored=done)
            now = time.monotonic()
            if now - last_push >= 0.5:  # throttled like the import's progress
                last_push = now
                _push(run, dataset, user_id, stats, "running")
    except Exception as exc:
        log.exception("entity linking of dataset %s failed", dataset_id)
        run.errors = [{"message": str(exc)}]
        _finish(run, dataset, user_id, stats, Run.Status.FAILED)
        raise
    _finish(run, dataset, user_id, stats, Run.Status.SUCCEEDED)
    return stats


def _resolve_row(mapping: dict, row: tuple) -> dict:
    _id, name, name_en, ident, area_id, lon, lat = row
    out: dict = {"type": mapping["type"], "name": name.strip()[:300], "area_id": area_id}
    if name_en and name_en.strip():
        out["name_en"] = name_en.strip()[:300]
    ident = (ident or "").strip()
    if ident and mapping.get("id_scheme") and len(ident) <= 200:  # longer values are not identifiers
        out["identifiers"] = {mapping["id_scheme"]: ident}
    if lon is not None and lat is not None:
        out["lon"], out["lat"] = lon, lat
    return out


def _finish(run: Run, dataset: Dataset, user_id: int | None, stats: dict, status: str) -> None:
    run.status, run.finished_at = status, timezone.now()
    if status == Run.Status.SUCCEEDED:
        run.progress = 1.0
    run.rows_stored = stats["by_identifier"] + stats["resolved"]
    run.save()
    _push(run, dataset, user_id, stats, "done" if status == Run.Status.SUCCEEDED else "failed")
