"""Reads for the role home pages ("what needs me now"), scoped like the inbox (case_visible_to).

Each function returns plain data (numbers, lists of small dicts, per-day series) for the shell's
home composition in cityos; counts come from the same visible queryset as the lists, so a home
page never counts what its user may not open.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Count, F, FloatField, Q, QuerySet, Value, When
from django.db.models import Case as SqlCase
from django.db.models.functions import TruncDate
from django.utils import timezone

from cityos.scoping import visible_department_ids
from governance.models import OPEN_STATUSES, Case, Channel, GridAssignment, Status, SupervisionOrder
from governance.selectors.cases import case_visible_to, sla_state

# Home lists show this many rows; their headings count everything and link to the full list.
HOME_ROWS = 8
SPARK_DAYS = 14


def _days(days: int, today=None) -> list:
    today = today or timezone.localdate()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _per_day(qs: QuerySet, field: str, days: int, *, value=None) -> list:
    """One number per local day (oldest first) for the last `days` days: a count, or `value` (an
    aggregate expression) per day."""
    index = _days(days)
    since = _start_of(index[0])
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(d=TruncDate(field, tzinfo=timezone.get_current_timezone()))
        .values("d")
        .annotate(v=value if value is not None else Count("id"))
        .order_by("d")
    )
    got = {r["d"]: r["v"] for r in rows}
    return [got.get(d) if value is not None else got.get(d, 0) for d in index]


def _overdue_q(now) -> Q:
    return Q(status__in=OPEN_STATUSES, sla_paused_at__isnull=True, due_at__lte=now)


def _case_row(case: Case, now) -> dict:
    return {
        "id": case.id,
        "tracking_number": case.tracking_number,
        "title": case.title,
        "status": case.get_status_display(),
        "priority": case.get_priority_display(),
        "sla": sla_state(case, now),
        "due_at": case.due_at,
        "created_at": case.created_at,
        "address": case.address,
        "department": str(case.department) if case.department_id else "",
        "lon": case.location.x if case.location else None,
        "lat": case.location.y if case.location else None,
    }


def city_case_kpis(*, user, days: int = SPARK_DAYS) -> dict:
    """The city leader's case figures: today's cases, overdue now, on-time rate and satisfaction of
    the last 30 days, each with a per-day series of the last `days` days."""
    now = timezone.now()
    today = timezone.localdate()
    visible = case_visible_to(user)
    month = now - timedelta(days=30)
    resolved = visible.filter(resolved_at__gte=month, resolved_on_time__isnull=False)
    agg = resolved.aggregate(n=Count("id"), on_time=Count("id", filter=Q(resolved_on_time=True)))
    rated = visible.filter(rated_at__gte=month, rating__isnull=False).aggregate(avg=Avg("rating"), n=Count("id"))
    on_time_share = Avg(
        SqlCase(When(resolved_on_time=True, then=Value(1.0)), default=Value(0.0), output_field=FloatField())
    )
    on_time_daily = [
        round(100 * v, 1) if v is not None else None
        for v in _per_day(visible.filter(resolved_on_time__isnull=False), "resolved_at", days, value=on_time_share)
    ]
    return {
        "today": visible.filter(created_at__gte=_start_of(today)).count(),
        "today_series": _per_day(visible, "created_at", days),
        "overdue": visible.filter(_overdue_q(now)).count(),
        # Cases that went past their deadline on each day without being resolved by then.
        "overdue_series": _per_day(
            visible.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=F("due_at")), due_at__lte=now),
            "due_at",
            days,
        ),
        "on_time_rate": round(100 * agg["on_time"] / agg["n"], 1) if agg["n"] else None,
        "on_time_series": on_time_daily,
        "satisfaction": round(rated["avg"], 2) if rated["avg"] is not None else None,
        "ratings": rated["n"],
        "satisfaction_series": _per_day(visible.filter(rating__isnull=False), "rated_at", days, value=Avg("rating")),
        "open": visible.filter(status__in=OPEN_STATUSES).count(),
    }


def department_queue(*, user) -> dict:
    """A department officer's queue: new (dispatched, not yet accepted), due soon, overdue, and
    reopened (sent back by the dispatcher or the citizen); the cases needing action first."""
    now = timezone.now()
    visible = case_visible_to(user)
    ids = visible_department_ids(user)
    if ids is not None:  # a dispatch centre's officer sees every case; the queue is their department's
        visible = visible.filter(department_id__in=ids)
    open_ = visible.filter(status__in=OPEN_STATUSES)
    due_soon = open_.filter(
        Q(warned_at__isnull=False) | Q(due_at__lte=now + timedelta(hours=4)),
        sla_paused_at__isnull=True,
        due_at__gt=now,
    )
    overdue = visible.filter(_overdue_q(now))
    urgent = (
        open_.filter(Q(pk__in=overdue.values("pk")) | Q(pk__in=due_soon.values("pk")) | Q(status=Status.DISPATCHED))
        .select_related("department")
        .order_by("due_at", "created_at")[:HOME_ROWS]
    )
    return {
        "new": open_.filter(status=Status.DISPATCHED).count(),
        "due_soon": due_soon.count(),
        "overdue": overdue.count(),
        "reopened": open_.filter(reopen_count__gt=0).count(),
        "open": open_.count(),
        "cases": [_case_row(c, now) for c in urgent],
    }


def supervision_orders(*, user, limit: int = HOME_ROWS) -> dict:
    """Open and overdue supervision orders (督办) on the cases the user sees."""
    visible = case_visible_to(user)
    qs = (
        SupervisionOrder.objects.filter(case__in=visible.values("pk"))
        .exclude(status=SupervisionOrder.Status.ANSWERED)
        .select_related("case")
        .order_by("due_at")
    )
    now = timezone.now()
    return {
        "count": qs.count(),
        "rows": [
            {
                "case_id": o.case_id,
                "tracking_number": o.case.tracking_number,
                "instruction": o.instruction,
                "due_at": o.due_at,
                "overdue": o.due_at <= now or o.status == SupervisionOrder.Status.OVERDUE,
                "status": o.get_status_display(),
            }
            for o in qs[:limit]
        ],
    }


def hotline_today(*, user) -> dict:
    """The hotline operator's day: today's calls, the triage queue (received, no department yet)
    and cases the departments returned for redispatch."""
    now = timezone.now()
    visible = case_visible_to(user)
    calls = visible.filter(channel=Channel.HOTLINE, created_at__gte=_start_of(timezone.localdate()))
    return {
        "calls_today": calls.count(),
        "calls_series": _per_day(visible.filter(channel=Channel.HOTLINE), "created_at", SPARK_DAYS),
        "mine_today": calls.filter(transitions__actor=user).distinct().count() if user.is_authenticated else 0,
        "triage": visible.filter(status=Status.RECEIVED, department__isnull=True).count(),
        "returned": visible.filter(status=Status.RETURNED).count(),
        "calls": [_case_row(c, now) for c in calls.select_related("department").order_by("-created_at")[:HOME_ROWS]],
    }


def grid_worker_home(*, user) -> dict:
    """A grid worker's grids, the open cases in them (nearest deadline first), the cases assigned
    to them (their patrol tasks) and their own recent patrol reports."""
    now = timezone.now()
    grid_ids = list(GridAssignment.objects.filter(worker=user, is_active=True).values_list("grid_id", flat=True))
    open_in_grids = (
        Case.objects.filter(grid_id__in=grid_ids, status__in=OPEN_STATUSES)
        .select_related("department")
        .order_by("due_at", "-created_at")
    )
    tasks = (
        case_visible_to(user)
        .filter(assignee=user, status__in=OPEN_STATUSES)
        .select_related("department")
        .order_by("due_at", "-created_at")
    )
    reports = Case.objects.filter(reporter_user=user, channel=Channel.GRID).order_by("-created_at")
    from datahub import facade

    grids = [facade.area_get(id=g) for g in grid_ids]
    return {
        "grids": [{"id": g.id, "name": g.name, "code": g.code} for g in grids if g],
        "open_count": open_in_grids.count(),
        "open_cases": [_case_row(c, now) for c in open_in_grids[:HOME_ROWS]],
        "task_count": tasks.count(),
        "tasks": [_case_row(c, now) for c in tasks[:HOME_ROWS]],
        "report_count": reports.count(),
        "reports_today": reports.filter(created_at__gte=_start_of(timezone.localdate())).count(),
        "reports": [_case_row(c, now) for c in reports.select_related("department")[:HOME_ROWS]],
    }
