"""Area reads: subtrees (recursive CTE on parent_id) and boundaries as GeoJSON."""

import json
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from datahub.core.models import Area
from datahub.core.selectors import gazetteer

_SUBTREE_SQL = """
    WITH RECURSIVE sub(id) AS (
        SELECT id FROM datahub_area WHERE id = %s
        UNION ALL
        SELECT a.id FROM datahub_area a JOIN sub ON a.parent_id = sub.id
    ) SELECT id FROM sub
"""


def area_subtree_sql(area_id: int) -> RawSQL:
    """A subquery of the area's id and all its descendants' (for `area_id__in=`), one round trip."""
    return RawSQL(_SUBTREE_SQL, [area_id])  # noqa: S611 - constant SQL, bound parameter


def area_subtree_ids(area_id: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(_SUBTREE_SQL, [area_id])
        return [r[0] for r in cur.fetchall()]


def area_queryset(
    *, level: str | None = None, parent_id: int | None = None, roots: bool = False, q: str = ""
) -> QuerySet:
    qs = Area.objects.order_by("code")
    if level:
        qs = qs.filter(level=level)
    if roots:
        qs = qs.filter(parent=None)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(name__icontains=q) | Q(name_en__icontains=q) | Q(code__startswith=q))
    return qs


def area_geojson(*, ids: list[int], tolerance: float = 0.0001) -> dict:
    """A FeatureCollection of the areas' boundaries, simplified in the database.

    The default tolerance of 0.0001° (~10 m) shrinks NYC's neighbourhoods from 0.8 MB to ~0.3 MB
    and is invisible at city zoom; areas without a boundary are left out.
    """
    if not ids:
        return {"type": "FeatureCollection", "features": []}
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT a.id, a.code, a.name, a.name_en, a.level, a.parent_id,
                   ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(a.geometry, %s)), 6),
                   (SELECT count(*) FROM datahub_area c WHERE c.parent_id = a.id)
            FROM datahub_area a WHERE a.id = ANY(%s) AND a.geometry IS NOT NULL ORDER BY a.code
            """,
            [tolerance, list(ids)],
        )
        features = [
            {
                "type": "Feature",
                "id": r[0],
                "properties": {
                    "id": r[0],
                    "code": r[1],
                    "name": r[2],
                    "name_en": r[3],
                    "level": r[4],
                    "parent_id": r[5],
                    "children": r[7],
                },
                "geometry": json.loads(r[6]),
            }
            for r in cur.fetchall()
        ]
    return {"type": "FeatureCollection", "features": features}


# --- plain-data area lookups (the facade's area_locate / area_ancestors / area_match_text) -------


@dataclass(frozen=True)
class AreaInfo:
    id: int
    code: str
    name: str
    name_en: str
    level: str
    parent_id: int | None


def _area_info(a: Area) -> AreaInfo:
    return AreaInfo(id=a.id, code=a.code, name=a.name, name_en=a.name_en, level=a.level, parent_id=a.parent_id)


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
