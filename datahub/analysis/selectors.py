"""Reads for analysis: event and datastream series as regular, zero-filled arrays, event points
for hotspots, all scoped to what the user may see.

Buckets are in the city's time zone (settings.TIME_ZONE): a "day" is a day in the city.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from cityos.roles import CITY_WIDE_ROLES
from cityos.scoping import visible_department_ids
from datahub.core.selectors.areas import area_subtree_sql
from datahub.models import Datastream, Event

BUCKET_SECONDS = {"hour": 3600, "day": 86400}


def city_tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def user_is_city_wide(user) -> bool:
    return bool(user and (user.is_superuser or getattr(user, "role", None) in CITY_WIDE_ROLES))


def events_visible_to(user, qs: QuerySet | None = None) -> QuerySet:
    """The one rule for event-log reads in analysis: city-wide roles see every event; others see the
    events of their department subtree and the events that belong to no department (alerts, sensor
    and opinion signals carry no department)."""
    qs = Event.objects.all() if qs is None else qs
    if user is None or user_is_city_wide(user):
        return qs
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    return qs.filter(Q(payload__department__in=list(ids)) | ~Q(payload__has_key="department"))


@dataclass(frozen=True)
class SeriesSpec:
    """What to count or measure. `kind` is "event" (count of events whose type matches `type`, a
    full type or a prefix ending in `*`) or "datastream" (a statistic of a datastream's rollups)."""

    kind: str
    type: str = ""
    datastream_id: int | None = None
    stat: str = "mean"
    category: str = ""
    area_id: int | None = None
    filters: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.kind == "event":
            return self.type + (f" [{self.category}]" if self.category else "")
        return f"datastream {self.datastream_id} {self.stat}"


def parse_series(value: str) -> SeriesSpec:
    """`event:case.received`, `event:case.*`, `datastream:12` or `datastream:12:max`; ValueError
    with a message naming what is wrong."""
    value = (value or "").strip()
    kind, _, rest = value.partition(":")
    if kind == "event":
        if not rest or len(rest) > 100 or any(c.isspace() for c in rest):
            raise ValueError("event series need an event type, e.g. event:case.received or event:case.*")
        if "*" in rest[:-1]:
            raise ValueError("a wildcard is allowed only at the end of the event type")
        return SeriesSpec(kind="event", type=rest)
    if kind == "datastream":
        ident, _, stat = rest.partition(":")
        if not ident.isdigit() or len(ident) > 12:
            raise ValueError("datastream series need a datastream id, e.g. datastream:12 or datastream:12:max")
        stat = stat or "mean"
        if stat not in ("mean", "min", "max", "sum", "count"):
            raise ValueError("the datastream statistic must be one of mean, min, max, sum, count")
        return SeriesSpec(kind="datastream", datastream_id=int(ident), stat=stat)
    raise ValueError("series must start with event: or datastream:")


def _type_filter(qs: QuerySet, type_: str) -> QuerySet:
    if type_.endswith("*"):
        return qs.filter(type__startswith=type_[:-1])
    return qs.filter(type=type_)


def event_filter(
    *,
    user=None,
    type: str = "",  # noqa: A002
    category: str = "",
    area_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet:
    qs = events_visible_to(user)
    if type:
        qs = _type_filter(qs, type)
    if category:
        qs = qs.filter(payload__category=category)
    if area_id is not None:
        qs = qs.filter(area_id__in=area_subtree_sql(area_id))
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs


def bucket_index(since: datetime, until: datetime, bucket: str) -> list[datetime]:
    """Bucket starts (aware, city time) covering [since, until)."""
    tz = city_tz()
    start = since.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    out, t = [], start
    step = timedelta(seconds=BUCKET_SECONDS[bucket])
    while t < until:
        out.append(t)
        # Day steps in local wall time (a DST change keeps midnights at midnight).
        t = (t.replace(tzinfo=None) + step).replace(tzinfo=tz) if bucket == "day" else (t + step).astimezone(tz)
    return out


def _sql_of(qs: QuerySet) -> tuple[str, list]:
    sql, params = qs.query.sql_with_params()
    return sql, list(params)


def event_series(
    spec: SeriesSpec, *, since: datetime, until: datetime, bucket: str, user=None
) -> tuple[list, np.ndarray]:
    """Counts per bucket over [since, until), zeros where nothing happened."""
    index = bucket_index(since, until, bucket)
    qs = event_filter(
        user=user, type=spec.type, category=spec.category, area_id=spec.area_id, since=since, until=until
    ).order_by()
    sql, params = _sql_of(qs.values("occurred_at"))
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT date_trunc(%s, s.occurred_at AT TIME ZONE %s) AS b, count(*) FROM ({sql}) s GROUP BY b",  # noqa: S608 - the inner SQL is the ORM's, parameters bound
            [bucket, settings.TIME_ZONE, *params],
        )
        counts = {b: n for b, n in cur.fetchall()}
    values = np.array([counts.get(t.replace(tzinfo=None), 0) for t in index], dtype=float)
    return index, values


def datastream_series(spec: SeriesSpec, *, since: datetime, until: datetime, bucket: str) -> tuple[list, np.ndarray]:
    """A statistic of the datastream's hourly rollups per bucket; NaN where no reading."""
    index = bucket_index(since, until, bucket)
    agg = {
        "mean": "sum(r.sum) / nullif(sum(r.count), 0)",
        "min": "min(r.min)",
        "max": "max(r.max)",
        "sum": "sum(r.sum)",
        "count": "sum(r.count)",
    }[spec.stat]
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT date_trunc(%s, r.bucket AT TIME ZONE %s) AS b, {agg}
                FROM datahub_observation_rollup r
                WHERE r.datastream_id = %s AND r.resolution = 'hour' AND r.bucket >= %s AND r.bucket < %s
                GROUP BY b""",  # noqa: S608 - agg is one of five constants
            [bucket, settings.TIME_ZONE, spec.datastream_id, since, until],
        )
        got = {b: v for b, v in cur.fetchall()}
    nan = float("nan")
    values = np.array([got.get(t.replace(tzinfo=None), nan) for t in index], dtype=float)
    if spec.stat in ("count", "sum"):
        values = np.nan_to_num(values, nan=0.0)
    return index, values


def datastream_exists(datastream_id: int) -> bool:
    return Datastream.objects.filter(id=datastream_id).exists()


def load_series(spec: SeriesSpec, *, since: datetime, until: datetime, bucket: str, user=None):
    if spec.kind == "event":
        return event_series(spec, since=since, until=until, bucket=bucket, user=user)
    return datastream_series(spec, since=since, until=until, bucket=bucket)


def event_types(*, user=None, since: datetime | None = None, limit: int = 200) -> list[dict]:
    """The event types present in the log (for choosers), most frequent first."""
    qs = events_visible_to(user)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    from django.db.models import Count

    return list(qs.order_by().values("type").annotate(count=Count("id")).order_by("-count", "type")[:limit])
