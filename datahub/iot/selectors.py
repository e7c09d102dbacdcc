"""Reads of the IoT store: series (raw or rollup), latest values, history export, monitor figures."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Avg, Count, F, Max, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from cityos.roles import Role
from cityos.scoping import visible_department_ids
from datahub.core.models import Department
from datahub.iot.models import Datastream, Device, IngestBatch, SeriesImport
from datahub.iot.services.ingest import MINUTE_ROLLUP_BELOW_S

RESOLUTIONS = ["raw", "minute", "hour", "day"]
BUCKET_SECONDS = {"raw": 0, "minute": 60, "hour": 3600, "day": 86400}
# "auto" picks the finest resolution that gives at most this many points for the span: an
# ECharts line stays smooth to ~2,000 points and a page of JSON stays under ~100 KB.
AUTO_MAX_POINTS = 2000


def device_list() -> QuerySet[Device]:
    return Device.objects.select_related("entity", "area", "owner_department").order_by("key")


def datastream_list() -> QuerySet[Datastream]:
    return Datastream.objects.select_related("device", "latest").order_by("id")


# --- department scoping (cityos.scoping, as datasets and governance cases) -----------------------
# Reading: city-wide roles (leader, analyst, administrator) see every device; everyone else sees
# the devices owned by their department and its sub-departments, plus the devices no department
# owns (shared city infrastructure, like alert rules without a department). Writing (register,
# edit, rotate a secret, add datastreams, import readings): administrators any device; department
# officers only devices their department's subtree owns (so never an unowned one).


def _subtree(user):
    """The ids of the user's department and its sub-departments, as a subquery (cityos.scoping's
    rule, without the two round trips: list pages keep their query counts)."""
    root = Department.objects.filter(id=user.department_id).values("path")[:1]
    return Department.objects.annotate(root=Subquery(root)).filter(path__startswith=F("root")).values("id")


def _device_scope(user, prefix: str = "") -> Q | None:
    """None: no restriction; else the condition on the device (`prefix` reaches it from another model)."""
    if not user or not user.is_authenticated:
        return Q(pk__in=[])
    if user.is_city_wide:
        return None
    unowned = Q(**{f"{prefix}owner_department__isnull": True})
    if not user.department_id:
        return unowned
    return Q(**{f"{prefix}owner_department_id__in": _subtree(user)}) | unowned


def _manage_scope(user, prefix: str = "") -> Q | None:
    if not user or not user.is_authenticated:
        return Q(pk__in=[])
    if user.is_superuser or user.role == Role.ADMINISTRATOR:
        return None
    if user.role != Role.DEPARTMENT_OFFICER or not user.department_id:
        return Q(pk__in=[])
    return Q(**{f"{prefix}owner_department_id__in": _subtree(user)})


# Public names for the other datahub selectors that follow the devices' rule (entities, alerts).
device_visible_condition = _device_scope
device_manage_condition = _manage_scope


def devices_visible_to(user) -> QuerySet[Device]:
    qs, cond = device_list(), _device_scope(user)
    return qs if cond is None else qs.filter(cond)


def datastreams_visible_to(user) -> QuerySet[Datastream]:
    qs, cond = datastream_list(), _device_scope(user, "device__")
    return qs if cond is None else qs.filter(cond)


def datastreams_writable_by(user) -> QuerySet[Datastream]:
    """The datastreams a user may write readings into by a file import (those of devices they manage)."""
    qs, cond = Datastream.objects.order_by("id"), _manage_scope(user, "device__")
    return qs if cond is None else qs.filter(cond)


def datastream_write_check(user):
    """For HTTP ingest with a user's token: None if the user may write into every datastream, else a
    function mapping datastream ids to those the user may write into (devices they manage)."""
    cond = _manage_scope(user, "device__")
    if cond is None:
        return None

    def writable(ids: set[int]) -> set[int]:
        return set(Datastream.objects.filter(cond, id__in=ids).values_list("id", flat=True))

    return writable


def device_can_manage(user, device: Device) -> bool:
    cond = _manage_scope(user)
    return cond is None or Device.objects.filter(cond, id=device.id).exists()


def department_can_own(user, department_id: int | None) -> bool:
    """May `user` make `department_id` (None: no department) the owner of a device?"""
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser or user.role == Role.ADMINISTRATOR:
        return True
    if user.role != Role.DEPARTMENT_OFFICER or department_id is None:
        return False
    return department_id in (visible_department_ids(user) or set())


def series_imports_visible_to(user) -> QuerySet[SeriesImport]:
    """Administrators see every series import; others their own."""
    qs = SeriesImport.objects.select_related("run", "created_by").order_by("-created_at", "-id")
    if not user or not user.is_authenticated:
        return qs.none()
    if user.is_superuser or user.role == Role.ADMINISTRATOR:
        return qs
    return qs.filter(created_by=user)


def resolution_pick(*, start: datetime, end: datetime, expected_interval_s: int = 60) -> str:
    span = (end - start).total_seconds()
    if span / max(expected_interval_s, 1) <= AUTO_MAX_POINTS:
        return "raw"
    for res in ("minute", "hour", "day"):
        if span / BUCKET_SECONDS[res] <= AUTO_MAX_POINTS:
            return res
    return "day"


@dataclass(frozen=True)
class SeriesPage:
    resolution: str
    points: list[dict]
    next_after: datetime | None


def series(
    *,
    datastream_id: int,
    start: datetime,
    end: datetime,
    resolution: str,
    after: datetime | None = None,
    limit: int = 5000,
) -> SeriesPage:
    """Points in [start, end) oldest first; keyset pagination on time (`after` = last time seen)."""
    lower_op = ">" if after is not None else ">="
    lower = after if after is not None else start
    as_minutes = False
    if resolution == "minute":
        interval = (
            Datastream.objects.filter(id=datastream_id).values_list("device__expected_interval_s", flat=True).first()
        )
        # Streams reporting once a minute or slower have no minute rollups: each reading is its bucket.
        as_minutes = interval is not None and interval >= MINUTE_ROLLUP_BELOW_S
    with connection.cursor() as cur:
        if as_minutes:
            # The cursor is a bucket start: resume at the next minute, not inside this one.
            lower, lower_op = (after + timedelta(minutes=1), ">=") if after is not None else (lower, lower_op)
            cur.execute(
                "SELECT date_trunc('minute', time) AS b, count(*), avg(value), min(value), max(value), sum(value) "
                "FROM datahub_observation WHERE datastream_id = %s "
                f"AND time {lower_op} %s AND time < %s GROUP BY b ORDER BY b LIMIT %s",
                [datastream_id, lower, end, limit + 1],
            )
            points = [
                {"time": b, "count": c, "mean": m, "min": lo, "max": hi, "sum": s}
                for b, c, m, lo, hi, s in cur.fetchall()
            ]
        elif resolution == "raw":
            cur.execute(
                "SELECT time, value, run_id FROM datahub_observation WHERE datastream_id = %s "
                f"AND time {lower_op} %s AND time < %s ORDER BY time LIMIT %s",
                [datastream_id, lower, end, limit + 1],
            )
            points = [{"time": t, "value": v, "run_id": r} for t, v, r in cur.fetchall()]
        else:
            cur.execute(
                "SELECT bucket, count, sum / count, min, max, sum FROM datahub_observation_rollup "
                "WHERE datastream_id = %s AND resolution = %s "
                f"AND bucket {lower_op} %s AND bucket < %s ORDER BY bucket LIMIT %s",
                [datastream_id, resolution, lower, end, limit + 1],
            )
            points = [
                {"time": b, "count": c, "mean": m, "min": lo, "max": hi, "sum": s}
                for b, c, m, lo, hi, s in cur.fetchall()
            ]
    more = len(points) > limit
    points = points[:limit]
    return SeriesPage(resolution=resolution, points=points, next_after=points[-1]["time"] if more else None)


def history_rows(*, datastream_id: int, start: datetime, end: datetime, resolution: str) -> Iterator[tuple]:
    """All points of a span for CSV export, read in pages of 10,000 (constant memory)."""
    after = None
    while True:
        page = series(
            datastream_id=datastream_id, start=start, end=end, resolution=resolution, after=after, limit=10_000
        )
        for p in page.points:
            if resolution == "raw":
                yield (p["time"].isoformat(), p["value"])
            else:
                yield (p["time"].isoformat(), p["count"], p["mean"], p["min"], p["max"], p["sum"])
        if page.next_after is None:
            return
        after = page.next_after


def observation_lineage(*, datastream_id: int, time: datetime) -> dict | None:
    """{"source": source code, "run_id": id} of the reading (datastream, time); None when there is none.

    One primary-key probe of one partition. A reading stored before lineage existed (or by a
    raw bulk load) has run_id and source null; so has one whose run was deleted since.
    """
    with connection.cursor() as cur:
        cur.execute(
            "SELECT o.run_id, s.code FROM datahub_observation o "
            "LEFT JOIN datahub_run r ON r.id = o.run_id LEFT JOIN datahub_source s ON s.id = r.source_id "
            "WHERE o.datastream_id = %s AND o.time = %s",
            [datastream_id, time],
        )
        row = cur.fetchone()
    if row is None:
        return None
    return {"source": row[1], "run_id": row[0] if row[1] is not None else None}


def latest_values(*, datastream_ids: list[int]) -> dict[int, tuple[datetime, float]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT datastream_id, time, value FROM datahub_observation_latest WHERE datastream_id = ANY(%s)",
            [list(datastream_ids)],
        )
        return {d: (t, v) for d, t, v in cur.fetchall()}


def ingest_monitor(*, minutes: int = 15, with_errors: bool = True) -> dict:
    """Rates, errors and lag of the last `minutes`, overall and per channel, plus a per-minute series.

    `with_errors=False` leaves out the sample of rejected readings: they name devices and values
    of every department, so only city-wide users get them (the figures are channel totals)."""
    since = timezone.now() - timedelta(minutes=minutes)
    qs = IngestBatch.objects.filter(committed_at__gte=since)
    per_channel = list(
        qs.values("channel")
        .annotate(
            batches=Count("id"),
            received=Sum("received"),
            stored=Sum("stored"),
            duplicates=Sum("duplicates"),
            rejected=Sum("rejected"),
            lag_avg_s=Avg("lag_s"),
            lag_max_s=Max("lag_s"),
        )
        .order_by("channel")
    )
    for row in per_channel:
        row["stored_per_s"] = round((row["stored"] or 0) / (minutes * 60), 2)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT date_trunc('minute', committed_at) AS m, sum(stored), sum(rejected), avg(lag_s) "
            "FROM datahub_ingestbatch WHERE committed_at >= %s GROUP BY m ORDER BY m",
            [since],
        )
        per_minute = [
            {"minute": m.isoformat(), "stored": s, "rejected": r, "lag_s": lag} for m, s, r, lag in cur.fetchall()
        ]
    recent_errors = []
    for b in qs.filter(rejected__gt=0).order_by("-committed_at")[: 10 if with_errors else 0]:
        for e in b.errors[:5]:
            recent_errors.append({"batch": b.id, "channel": b.channel, "at": b.committed_at.isoformat(), **e})
    return {"minutes": minutes, "channels": per_channel, "per_minute": per_minute, "recent_errors": recent_errors[:30]}


def epoch(dt: datetime) -> float:
    return dt.astimezone(UTC).timestamp()
