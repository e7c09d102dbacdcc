"""Event reads: the log as data and as counts per area, type and time bucket.

Buckets are truncated in the city's time zone (settings.TIME_ZONE): a "day" is a day in the
city, not in UTC (Asia/Shanghai midnight is 16:00 UTC).
"""

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc

from datahub.core.models import Event
from datahub.core.selectors.areas import area_subtree_sql

BUCKETS = ("hour", "day", "week", "month")
GROUPS = ("area", "type")


def events_visible_to(user) -> QuerySet[Event]:
    """The one rule for the event log (list, counts, entity pages): staff roles only; city-wide
    roles see every event, department-scoped roles their department subtree's events (a case's, an
    alert's) and the events no department owns. External developers see none: the log is what
    the city's staff did."""
    from cityos.roles import is_staff_role
    from cityos.scoping import visible_department_ids

    if not is_staff_role(user):
        return Event.objects.none()
    ids = visible_department_ids(user)
    if ids is None:
        return Event.objects.all()
    return Event.objects.filter(Q(department__isnull=True) | Q(department_id__in=ids))


def event_queryset(
    *,
    base: QuerySet | None = None,
    types: list[str] | None = None,
    type_prefix: str | None = None,
    area_id: int | None = None,
    include_descendants: bool = True,
    since: datetime | None = None,
    until: datetime | None = None,
    subject_id: int | None = None,
    source_id: int | None = None,
) -> QuerySet:
    """Events filtered; `since` inclusive, `until` exclusive; area includes its sub-areas by default."""
    qs = Event.objects.all() if base is None else base
    if types:
        qs = qs.filter(type__in=types)
    if type_prefix:
        qs = qs.filter(type__startswith=type_prefix)
    if area_id is not None:
        qs = qs.filter(area_id__in=area_subtree_sql(area_id)) if include_descendants else qs.filter(area_id=area_id)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    if subject_id is not None:
        qs = qs.filter(subject_id=subject_id)
    if source_id is not None:
        qs = qs.filter(source_id=source_id)
    return qs


def event_count(
    *,
    type: str | None = None,
    area_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,  # noqa: A002
) -> int:
    return event_queryset(types=[type] if type else None, area_id=area_id, since=since, until=until).count()


def event_counts(
    *,
    bucket: str = "day",
    group: str = "area",
    types: list[str] | None = None,
    area_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    level: str | None = None,
    limit: int = 10000,
    base: QuerySet | None = None,
) -> list[dict]:
    """[{"bucket": aware datetime, "area_id": …, "type": …, "count": n}] ordered by bucket then group.

    `group` is "area", "type", "area,type" or "" (per bucket only). Grouping by area counts per
    the event's own area (the area filter still includes sub-areas), or, with `level="district"`,
    per the event area's ancestor at that level (events recorded on grid cells counted per
    district); events whose area has no ancestor at that level are left out.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    groups = [g.strip() for g in (group or "").split(",") if g.strip() and g.strip() != "none"]
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        raise ValueError(f"group must be made of {', '.join(GROUPS)}, not {bad[0]!r}")
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    qs = event_queryset(base=base, types=types, area_id=area_id, since=since, until=until).order_by()
    keys = ["bucket"] + ["area_id" if g == "area" else g for g in dict.fromkeys(groups)]
    rows = (
        qs.annotate(bucket=Trunc("occurred_at", bucket, tzinfo=tz))
        .values(*keys)
        .annotate(count=Count("id"))
        .order_by(*keys)[:limit]
    )
    rows = list(rows)
    if level and "area" in groups:
        rows = _roll_up(rows, level, keys)
    return rows


def _roll_up(rows: list[dict], level: str, keys: list[str]) -> list[dict]:
    """Re-key per-area counts to each area's ancestor (or itself) at `level`: one recursive query
    over the distinct areas (a few hundred), then a sum in Python over already-grouped rows."""
    area_ids = list({r["area_id"] for r in rows if r["area_id"] is not None})
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH RECURSIVE up(start, id, parent_id, level, depth) AS (
                SELECT a.id, a.id, a.parent_id, a.level, 0 FROM datahub_area a WHERE a.id = ANY(%s)
                UNION ALL
                SELECT up.start, p.id, p.parent_id, p.level, up.depth + 1
                FROM up JOIN datahub_area p ON p.id = up.parent_id
                WHERE up.level <> %s AND up.depth < 16
            )
            SELECT start, id FROM up WHERE level = %s
            """,
            [area_ids, level, level],
        )
        target = dict(cur.fetchall())
    totals: dict[tuple, int] = {}
    for r in rows:
        anc = target.get(r["area_id"])
        if anc is None:
            continue
        key = tuple(anc if k == "area_id" else r[k] for k in keys)
        totals[key] = totals.get(key, 0) + r["count"]
    return [{**dict(zip(keys, k, strict=True)), "count": n} for k, n in sorted(totals.items(), key=lambda kv: kv[0])]
