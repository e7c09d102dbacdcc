"""Administrative efficiency per department and period (行政效能)."""

from datetime import datetime

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from governance.models import OPEN_STATUSES, Case

# Composite score weights (sum 100): timeliness matters most to citizens, then satisfaction.
W_ON_TIME, W_SATISFACTION, W_NO_REOPEN = 50, 30, 20


def _hours(td) -> float | None:
    return round(td.total_seconds() / 3600, 2) if td is not None else None


def efficiency_by_department(*, start: datetime, end: datetime, now: datetime | None = None) -> list[dict]:
    """One row per department that received cases in [start, end), ranked by the composite score."""
    now = now or timezone.now()
    qs = (
        Case.objects.filter(created_at__gte=start, created_at__lt=end, department__isnull=False)
        .exclude(status="merged")
        .values("department_id", "department__name")
        .annotate(
            received=Count("id"),
            resolved=Count("id", filter=Q(resolved_at__isnull=False)),
            on_time=Count("id", filter=Q(resolved_on_time=True)),
            overdue=Count(
                "id",
                filter=Q(resolved_on_time=False)
                | Q(status__in=OPEN_STATUSES, sla_paused_at__isnull=True, due_at__lte=now),
            ),
            reopened=Count("id", filter=Q(reopen_count__gt=0)),
            rated=Count("rating"),
            satisfaction=Avg("rating"),
            accept_time=Avg(ExpressionWrapper(F("accepted_at") - F("created_at"), output_field=DurationField())),
            resolve_time=Avg(ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())),
        )
        .order_by("department_id")
    )
    rows = []
    for r in qs:
        on_time_rate = r["on_time"] / r["resolved"] if r["resolved"] else None
        reopen_rate = r["reopened"] / r["received"]
        sat = float(r["satisfaction"]) if r["satisfaction"] is not None else None
        score = (
            W_ON_TIME * (on_time_rate if on_time_rate is not None else 0)
            + W_SATISFACTION * ((sat - 1) / 4 if sat is not None else 0.5)
            + W_NO_REOPEN * (1 - reopen_rate)
        )
        rows.append(
            {
                "department_id": r["department_id"],
                "department": r["department__name"],
                "received": r["received"],
                "resolved": r["resolved"],
                "on_time_rate": round(on_time_rate, 4) if on_time_rate is not None else None,
                "mean_hours_to_accept": _hours(r["accept_time"]),
                "mean_hours_to_resolve": _hours(r["resolve_time"]),
                "overdue": r["overdue"],
                "reopen_rate": round(reopen_rate, 4),
                "satisfaction": round(sat, 2) if sat is not None else None,
                "ratings": r["rated"],
                "score": round(score, 1),
            }
        )
    rows.sort(key=lambda row: (-row["score"], row["department_id"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


EFFICIENCY_COLUMNS = [
    "rank",
    "department",
    "received",
    "resolved",
    "on_time_rate",
    "mean_hours_to_accept",
    "mean_hours_to_resolve",
    "overdue",
    "reopen_rate",
    "satisfaction",
    "ratings",
    "score",
]


def open_cases_by_area(*, level: str = "district") -> dict[int, int]:
    field = {"district": "district_id", "street": "street_id", "grid": "grid_id"}[level]
    qs = (
        Case.objects.filter(status__in=OPEN_STATUSES, **{f"{field}__isnull": False})
        .values(field)
        .annotate(n=Count("id"))
        .order_by(field)
    )
    return {r[field]: r["n"] for r in qs}
