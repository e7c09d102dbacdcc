"""Spatio-temporal queries for analysts: region statistics, k nearest entities, time-window joins.
Plain SQL over PostGIS with bound parameters; distances on the geography type (metres)."""

from datetime import datetime

from django.conf import settings
from django.db import connection

from datahub.analysis import selectors

MAX_ROWS = 10_000


def _rows(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def region_stats_events(
    *, event: str, level: str, bucket: str, since: datetime, until: datetime, category: str = "", user=None
) -> list[dict]:
    """Event counts per area of `level` (point in polygon) and time bucket (city time)."""
    qs = selectors.event_filter(user=user, type=event, category=category, since=since, until=until).filter(
        location__isnull=False
    )
    inner, params = qs.order_by().values("id").query.sql_with_params()
    return _rows(
        f"""SELECT a.id AS area_id, a.code AS area_code, a.name AS area_name,
                   date_trunc(%s, e.occurred_at AT TIME ZONE %s) AS bucket, count(*) AS count
            FROM datahub_event e JOIN datahub_area a ON a.level = %s AND ST_Contains(a.geometry, e.location)
            WHERE e.id IN ({inner})
            GROUP BY a.id, a.code, a.name, bucket ORDER BY bucket, a.code LIMIT %s""",  # noqa: S608 - ORM SQL, bound params
        [bucket, settings.TIME_ZONE, level, *params, MAX_ROWS],
    )


def region_stats_metric(*, metric: str, level: str, bucket: str, since: datetime, until: datetime) -> list[dict]:
    """count, sum, mean, min, max of a metric's hourly rollups per area of `level` (the device's
    point in the area) and time bucket."""
    return _rows(
        """SELECT a.id AS area_id, a.code AS area_code, a.name AS area_name,
                  date_trunc(%s, r.bucket AT TIME ZONE %s) AS bucket,
                  sum(r.count) AS count, sum(r.sum) AS sum, sum(r.sum) / nullif(sum(r.count), 0) AS mean,
                  min(r.min) AS min, max(r.max) AS max
           FROM datahub_observation_rollup r
           JOIN datahub_datastream s ON s.id = r.datastream_id AND s.metric = %s
           JOIN datahub_device d ON d.id = s.device_id
           JOIN datahub_area a ON a.level = %s AND ST_Contains(a.geometry, d.point)
           WHERE r.resolution = 'hour' AND r.bucket >= %s AND r.bucket < %s
           GROUP BY a.id, a.code, a.name, 4 ORDER BY 4, a.code LIMIT %s""",
        [bucket, settings.TIME_ZONE, metric, level, since, until, MAX_ROWS],
    )


def knn_entities(*, lon: float, lat: float, k: int = 10, type: str = "", max_m: float | None = None) -> list[dict]:  # noqa: A002
    """The k entities nearest the point (index-ordered by <->, distances in metres)."""
    where, params = "e.geometry IS NOT NULL AND e.merged_into_id IS NULL", []
    if type:
        where += " AND e.type = %s"
        params.append(type)
    if max_m is not None:
        where += " AND ST_DWithin(e.geometry::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)"
        params += [lon, lat, max_m]
    return _rows(
        f"""SELECT e.id, e.type, e.name, e.area_id,
                   round(ST_Distance(e.geometry::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)::numeric, 1)::float AS distance_m,
                   ST_X(ST_PointOnSurface(e.geometry)) AS lon, ST_Y(ST_PointOnSurface(e.geometry)) AS lat
            FROM datahub_entity e WHERE {where}
            ORDER BY e.geometry <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT %s""",  # noqa: S608 - constant fragments
        [lon, lat, *params, lon, lat, k],
    )


def window_join(
    *, left: str, right: str, distance_m: float, hours: float, since: datetime, until: datetime, user=None
) -> list[dict]:
    """Pairs (left event, right event) within `distance_m` metres and `hours` hours of each other,
    e.g. cases within 500 m and 24 h of an alert. Left events in [since, until)."""
    lq = selectors.event_filter(user=user, type=left, since=since, until=until).filter(location__isnull=False)
    rq = selectors.event_filter(user=user, type=right).filter(location__isnull=False)
    lsql, lp = lq.order_by().values("id").query.sql_with_params()
    rsql, rp = rq.order_by().values("id").query.sql_with_params()
    return _rows(
        f"""SELECT l.id AS left_id, l.type AS left_type, l.occurred_at AS left_at,
                   r.id AS right_id, r.type AS right_type, r.occurred_at AS right_at,
                   round(ST_Distance(l.location::geography, r.location::geography)::numeric, 1)::float AS distance_m,
                   round((extract(epoch FROM (l.occurred_at - r.occurred_at)) / 3600)::numeric, 2)::float AS hours_after,
                   ST_X(l.location) AS lon, ST_Y(l.location) AS lat, l.area_id
            FROM datahub_event l JOIN datahub_event r
              ON r.id IN ({rsql})
             AND r.occurred_at BETWEEN l.occurred_at - make_interval(secs => %s) AND l.occurred_at + make_interval(secs => %s)
             AND ST_DWithin(l.location::geography, r.location::geography, %s)
            WHERE l.id IN ({lsql}) AND l.id <> r.id
            ORDER BY l.occurred_at, l.id, r.id LIMIT %s""",  # noqa: S608 - ORM SQL, bound params
        [*rp, hours * 3600, hours * 3600, distance_m, *lp, MAX_ROWS],
    )
