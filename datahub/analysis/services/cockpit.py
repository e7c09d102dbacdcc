"""The operations cockpit's data: KPI tiles, a daily trend, and map layers aggregated on the
server (clusters by zoom and bounding box), so 100,000 points reach the browser as a few hundred
clusters. One SQL GROUP BY over grid cells per request, using the event (type, occurred_at)
index and a bounding-box filter; single points are sent only at street zoom, capped."""

import json
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from datahub.models import Alert, Document, Situation

from . import briefing

# Event-backed layers: the types each shows.
EVENT_LAYERS = {"cases": ["case.received"], "alerts": ["alert.raised"], "risks": ["industry.risk_raised"]}
ENTITY_LAYERS = ("enterprise", "facility")
MAX_POINTS = 2000
POINT_ZOOM = 16  # from this zoom on, single items (popups, drill-down to the item)


def cell_degrees(zoom: int) -> float:
    """About 60 px at this zoom: a 256-px tile spans 360 / 2^zoom degrees."""
    return 360.0 / (2**zoom) * 60 / 256


def _bbox_sql(bbox, column: str, points: bool = False) -> tuple[str, list]:
    if bbox is None:
        return "", []
    if points:
        # Event points: plain coordinate bounds (the same points as ST_Intersects, edges included),
        # so the planner keeps the index-only scan of (type, occurred_at, location) and filters as
        # it reads. With ST_Intersects it ANDed a GiST bitmap of every event in the box, whatever
        # its type or age: 170 ms instead of ~40 ms for a day of case points in a district's box.
        x0, y0, x1, y1 = bbox
        return (
            f" AND ST_X({column}) BETWEEN %s AND %s AND ST_Y({column}) BETWEEN %s AND %s",
            [min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)],
        )
    # ST_Intersects (index-assisted) rather than bare && whose float4 boxes reach a hair outside
    return f" AND ST_Intersects({column}, ST_MakeEnvelope(%s, %s, %s, %s, 4326))", list(bbox)


def layer_geojson(*, layer: str, zoom: int, bbox=None, hours: int = 24, area_id: int | None = None, user=None) -> dict:
    """A FeatureCollection of clusters ({"count", "cluster": true}) or, at POINT_ZOOM and beyond,
    of single items ({"id", "label", "at"})."""
    since = timezone.now() - timedelta(hours=hours)
    single = zoom >= POINT_ZOOM
    cell = cell_degrees(zoom)
    if layer in EVENT_LAYERS:
        from datahub.analysis.selectors import user_is_city_wide

        table, geom, label, at = "datahub_event e", "e.location", "e.type", "e.occurred_at"
        # Plain predicates for the (type, occurred_at) index; a scoped user's rule is the selector's.
        where = "e.type = ANY(%s) AND e.occurred_at >= %s AND e.location IS NOT NULL"
        params = [EVENT_LAYERS[layer], since]
        if area_id is not None:
            from datahub.core.selectors.areas import _SUBTREE_SQL

            where += f" AND e.area_id IN ({_SUBTREE_SQL})"
            params.append(area_id)
        if user is not None and not user_is_city_wide(user):
            from datahub.analysis.selectors import events_visible_to

            inner, p = events_visible_to(user).order_by().values("id").query.sql_with_params()
            where += f" AND e.id IN ({inner})"
            params += list(p)
    elif layer == "sensors":
        table, geom, label, at, where, params = (
            "datahub_device e",
            "e.point",
            "e.key",
            "e.last_seen_at",
            "e.point IS NOT NULL",
            [],
        )
    elif layer == "situations":
        table = "datahub_situation s JOIN datahub_area e ON e.id = s.area_id"
        geom, label, at = "e.centroid", "s.severity", "s.window_end"
        where, params = "s.status <> 'dismissed' AND s.window_end >= %s AND e.centroid IS NOT NULL", [since]
    elif layer.startswith("entity:") and layer.split(":", 1)[1] in ENTITY_LAYERS:
        table, geom, label, at = "datahub_entity e", "ST_PointOnSurface(e.geometry)", "e.name", "e.updated_at"
        where, params = "e.type = %s AND e.geometry IS NOT NULL AND e.merged_into_id IS NULL", [layer.split(":", 1)[1]]
    else:
        raise ValueError(f"unknown layer {layer!r}")
    box_sql, box_params = _bbox_sql(bbox, geom, points=layer in EVENT_LAYERS)
    with connection.cursor() as cur:
        if single:
            cur.execute(
                f"SELECT e.id, ST_X({geom}), ST_Y({geom}), {label}, {at} FROM {table} WHERE {where}{box_sql} ORDER BY {at} DESC NULLS LAST LIMIT %s",  # noqa: S608 - constant fragments, bound params
                [*params, *box_params, MAX_POINTS + 1],
            )
            rows = cur.fetchall()
            features = [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                    "properties": {"id": i, "label": lab, "at": a.isoformat() if isinstance(a, datetime) else None},
                }
                for i, x, y, lab, a in rows[:MAX_POINTS]
            ]
            return {
                "type": "FeatureCollection",
                "layer": layer,
                "clustered": False,
                "truncated": len(rows) > MAX_POINTS,
                "features": features,
            }
        # Cells by the integer cell numbers (floor of the coordinates over the cell size), not by
        # ST_SnapToGrid: grouping on two floats instead of a geometry per point halved the
        # aggregate's time (a day of 16k case points at zoom 10: 118 ms -> 39 ms with the covering
        # (type, occurred_at, location) index). The cluster sits at its points' mean either way.
        cur.execute(
            f"""SELECT count(*), avg(x), avg(y) FROM (
                    SELECT ST_X({geom}) AS x, ST_Y({geom}) AS y FROM {table} WHERE {where}{box_sql}
                ) p
                GROUP BY floor(x / %s), floor(y / %s) LIMIT 5000""",  # noqa: S608 - constant fragments, bound params
            [*params, *box_params, cell, cell],
        )
        rows = cur.fetchall()
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
            "properties": {"count": n, "cluster": True},
        }
        for n, x, y in rows
    ]
    return {"type": "FeatureCollection", "layer": layer, "clustered": True, "truncated": False, "features": features}


def kpis(*, area_id: int | None = None, user=None) -> dict:
    """Today's tiles (city day so far) and the last 14 days of case intake and alerts: one pass
    over the event log's (type, occurred_at) index for all the event figures."""
    from datahub.analysis.selectors import user_is_city_wide

    today = timezone.localdate()
    start, end = briefing._day_bounds(today)
    series_start, _ = briefing._day_bounds(today - timedelta(days=13))
    where, params = "", []
    if area_id is not None:
        from datahub.core.selectors.areas import _SUBTREE_SQL

        where += f" AND area_id IN ({_SUBTREE_SQL})"
        params.append(area_id)
    if user is not None and not user_is_city_wide(user):
        from datahub.analysis.selectors import events_visible_to

        inner, p = events_visible_to(user).order_by().values("id").query.sql_with_params()
        where += f" AND id IN ({inner})"
        params += list(p)
    tzname = timezone.get_current_timezone_name()

    def counts(since, until) -> list[tuple[str, str, int]]:
        with connection.cursor() as cur:
            cur.execute(
                f"""SELECT (occurred_at AT TIME ZONE %s)::date AS d, type, count(*)
                    FROM datahub_event
                    WHERE type IN ('case.received', 'case.close', 'case.overdue', 'alert.raised')
                      AND occurred_at >= %s AND occurred_at < %s{where}
                    GROUP BY d, type""",  # noqa: S608 - constant fragments, bound params
                [tzname, since, until, *params],
            )
            return [(d.isoformat(), t, n) for d, t, n in cur.fetchall()]

    # The 13 past days hardly change: counted once per 5 minutes per area and scope (an index-only
    # scan of ~370k entries takes ~270 ms at 1M events); today is always counted live.
    scope = "all" if user is None or user_is_city_wide(user) else f"u{user.id}"
    key = f"analysis:cockpit:past:{connection.settings_dict['NAME']}:{today}:{area_id}:{scope}"
    past = cache.get(key)
    if past is None:
        past = counts(series_start, start)
        cache.set(key, past, 300)
    rows = past + counts(start, end)
    days = [(today - timedelta(days=13 - i)).isoformat() for i in range(14)]
    got = {(d, t): n for d, t, n in rows}
    alerts = Alert.objects.filter(status=Alert.Status.ACTIVE)
    sits = Situation.objects.filter(status="open")
    if area_id is not None:
        from datahub.core.selectors.areas import area_subtree_sql

        alerts = alerts.filter(area_id__in=area_subtree_sql(area_id))
        sits = sits.filter(area_id__in=area_subtree_sql(area_id))
    t = today.isoformat()
    return {
        "day": t,
        "cases_received": got.get((t, "case.received"), 0),
        "cases_closed": got.get((t, "case.close"), 0),
        "cases_overdue": got.get((t, "case.overdue"), 0),
        "alerts_active": alerts.count(),
        "situations_open": sits.count(),
        "negative_posts": Document.objects.filter(
            sentiment="negative", published_at__gte=start, published_at__lt=end
        ).count(),
        "trend": {
            "days": days,
            "cases": [got.get((d, "case.received"), 0) for d in days],
            "alerts": [got.get((d, "alert.raised"), 0) for d in days],
        },
    }


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
