"""Set-based entity resolution for imports of thousands of rows (the industry registry's 14,573
Little Rock licences, the demo's 2,000 enterprises).

`entity_resolve` takes advisory locks and queries per row (~400 rows/s); this resolves a whole
batch in a handful of queries: (1) identifiers already known, (2) the same normalised name in the
same area, (3) bulk-created new entities with their identifiers. The rules are the same as
`entity_resolve`'s, minus distance matching (rows here carry an area, not a distance).
"""

from django.contrib.gis.geos import Point
from django.db import transaction

from datahub.core.models import Entity, EntityIdentifier
from datahub.core.normalize import normalize_name
from datahub.core.services.entities import EntityError, _clean_identifiers

MAX_BULK = 20_000


def entity_resolve_bulk(*, type: str, rows: list[dict], source_id: int | None = None) -> list[tuple[int, bool]]:  # noqa: A002
    """rows: {"name", "name_en"?, "identifiers"?, "lon"?, "lat"?, "area_id"?, "attributes"?}.
    Returns [(entity_id, created)] in row order. All or nothing."""
    if type not in Entity.Type.values:
        raise EntityError(f"type must be one of {', '.join(Entity.Type.values)}", field="type")
    if len(rows) > MAX_BULK:
        raise EntityError(f"at most {MAX_BULK} rows per call (got {len(rows)})")
    cleaned = []
    for index, row in enumerate(rows):
        name = str(row.get("name") or "").strip()
        if not name:
            raise EntityError(f"row {index}: name is required", field="name")
        cleaned.append((name, normalize_name(name), _clean_identifiers(row.get("identifiers")), row))
    out: list[tuple[int, bool] | None] = [None] * len(rows)
    with transaction.atomic():
        # 1. identifiers already known (oldest entity wins, merged ones followed to the survivor)
        pairs = {(s, v) for _n, _nn, ids, _r in cleaned for s, v in ids.items()}
        known: dict[tuple[str, str], int] = {}
        if pairs:
            values = {v for _s, v in pairs}
            for s, v, eid, merged in (
                EntityIdentifier.objects.filter(value__in=values, scheme__in={s for s, _v in pairs})
                .order_by("-entity_id")
                .values_list("scheme", "value", "entity_id", "entity__merged_into_id")
            ):
                known[(s, v)] = merged or eid
        # 2. the same normalised name in the same area
        by_place: dict[tuple[str, int], int] = {}
        keys = {(nn, r.get("area_id")) for _n, nn, _ids, r in cleaned if r.get("area_id")}
        if keys:
            for eid, nn, area_id in (
                Entity.objects.filter(
                    type=type,
                    merged_into=None,
                    normalized_name__in={k[0] for k in keys},
                    area_id__in={k[1] for k in keys},
                )
                .order_by("-id")
                .values_list("id", "normalized_name", "area_id")
            ):
                by_place[(nn, area_id)] = eid
        new_rows: list[int] = []
        batch_key: dict = {}
        for index, (_name, nn, ids, row) in enumerate(cleaned):
            hit = next((known[(s, v)] for s, v in sorted(ids.items()) if (s, v) in known), None)
            if hit is None and row.get("area_id"):
                hit = by_place.get((nn, row["area_id"]))
            if hit is not None:
                out[index] = (hit, False)
                continue
            # Two rows of the same batch naming one thing (same identifier, or name + area) become one.
            dup_keys = [("id", s, v) for s, v in ids.items()] + (
                [("place", nn, row["area_id"])] if row.get("area_id") else []
            )
            first = next((batch_key[k] for k in dup_keys if k in batch_key), None)
            if first is not None:
                out[index] = ("same", first)  # resolved after the insert
                continue
            for k in dup_keys:
                batch_key[k] = index
            new_rows.append(index)
        created = Entity.objects.bulk_create(
            [
                Entity(
                    type=type,
                    name=cleaned[i][0][:300],
                    name_en=str(cleaned[i][3].get("name_en") or "")[:300],
                    normalized_name=cleaned[i][1],
                    geometry=_point(cleaned[i][3]),
                    area_id=cleaned[i][3].get("area_id"),
                    attributes=cleaned[i][3].get("attributes") or {},
                )
                for i in new_rows
            ],
            batch_size=2000,
        )
        for i, entity in zip(new_rows, created, strict=True):
            out[i] = (entity.id, True)
        EntityIdentifier.objects.bulk_create(
            [
                EntityIdentifier(entity_id=out[i][0], scheme=s, value=v, source_id=source_id, confidence=1.0)
                for i in new_rows
                for s, v in cleaned[i][2].items()
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
        for index, value in enumerate(out):
            if value is not None and value[0] == "same":
                out[index] = (out[value[1]][0], False)
    return out  # type: ignore[return-value]


def _point(row: dict) -> Point | None:
    lon, lat = row.get("lon"), row.get("lat")
    return Point(float(lon), float(lat), srid=4326) if lon is not None and lat is not None else None
