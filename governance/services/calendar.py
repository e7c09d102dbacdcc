"""Working-time arithmetic: Mon–Fri 9:00–18:00 local time (9 working hours a day), minus holidays,
plus make-up working days, from the CalendarDay table.

Deadlines are counted in working hours so a case received on Friday at 17:00 with 4 hours is due
on Monday at 12:00, not on Saturday.
"""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from governance.models import CalendarDay
from governance.services.refcache import RefCache

DAY_START = time(9, 0)
DAY_END = time(18, 0)
DAY_SECONDS = 9 * 3600
# A deadline is never more than this many calendar days ahead (a 2-week holiday plus slack).
_HORIZON_DAYS = 400


class WorkCalendar:
    """Loads the exceptions of a date range once; every computation after that is pure Python."""

    def __init__(self, start: date, end: date):
        rows = CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "kind")
        self.holidays = {d for d, k in rows if k == CalendarDay.Kind.HOLIDAY}
        self.workdays = {d for d, k in rows if k == CalendarDay.Kind.WORKDAY}

    @classmethod
    def around(cls, moment: datetime, days: int = _HORIZON_DAYS) -> "WorkCalendar":
        d = timezone.localtime(moment).date()
        return cls(d - timedelta(days=days), d + timedelta(days=days))

    def is_working_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        tz = timezone.get_current_timezone()
        local = timezone.localtime(start)
        d = local.date()
        remaining = float(seconds)
        # Position within the first day.
        cursor = local.replace(tzinfo=None)
        for _ in range(_HORIZON_DAYS * 2):
            day_start = datetime.combine(d, DAY_START)
            day_end = datetime.combine(d, DAY_END)
            if self.is_working_day(d):
                begin = max(cursor, day_start)
                if begin < day_end:
                    available = (day_end - begin).total_seconds()
                    if remaining <= available:
                        return timezone.make_aware(begin + timedelta(seconds=remaining), tz)
                    remaining -= available
            d += timedelta(days=1)
            cursor = datetime.combine(d, time(0, 0))
        raise ValueError(f"deadline more than {_HORIZON_DAYS * 2} days ahead")

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        if b <= a:
            return 0.0
        la, lb = timezone.localtime(a).replace(tzinfo=None), timezone.localtime(b).replace(tzinfo=None)
        total, d = 0.0, la.date()
        while d <= lb.date():
            if self.is_working_day(d):
                begin = max(la, datetime.combine(d, DAY_START))
                end = min(lb, datetime.combine(d, DAY_END))
                if end > begin:
                    total += (end - begin).total_seconds()
            d += timedelta(days=1)
        return total


def _current() -> "WorkCalendar":
    today = timezone.localdate()
    cal = WorkCalendar(today - timedelta(days=_HORIZON_DAYS), today + timedelta(days=2 * _HORIZON_DAYS))
    cal.span = (today - timedelta(days=_HORIZON_DAYS // 2), today + timedelta(days=_HORIZON_DAYS))
    return cal


_calendar = RefCache(_current)


def calendar_for(moment: datetime) -> WorkCalendar:
    """The cached calendar when `moment` is within ±200 days of today (every live case), else a fresh one."""
    cal = _calendar.get()
    if cal.span[0] <= timezone.localtime(moment).date() <= cal.span[1]:
        return cal
    return WorkCalendar.around(moment)


def add_working_hours(*, start: datetime, hours: float) -> datetime:
    return calendar_for(start).add_working_seconds(start, hours * 3600)


def working_hours_between(*, start: datetime, end: datetime) -> float:
    cal = WorkCalendar(timezone.localtime(start).date(), timezone.localtime(end).date())
    return cal.working_seconds_between(start, end) / 3600


# --- the calendar's edits, told to the other apps ------------------------------------------------
# Offices' appointment slots (livelihood) close on the city's holidays: each edit publishes
# `governance.calendar_changed` after commit with the days it touched, {"days": [{"date": ISO date,
# "kind": "holiday" | "workday" | None (removed), "name": str}]}; subscribers mirror what they need.


def _publish_days(days: list[dict]) -> None:
    from cityos import bus

    if days:
        bus.publish("governance.calendar_changed", {"days": days})


def calendar_days_set(*, days: list[tuple[date, str | None, str]]) -> int:
    """Create, change or (kind None) remove calendar exceptions: [(date, kind, name)]; one event for all."""
    from django.db import transaction

    from governance.services.refcache import refcache_reset_all

    valid = set(CalendarDay.Kind.values)
    out = []
    with transaction.atomic():
        for day, kind, name in days:
            if kind is None:
                CalendarDay.objects.filter(date=day).delete()
            else:
                if kind not in valid:
                    raise ValueError(f"kind: {kind!r} is not one of {sorted(valid)}")
                CalendarDay.objects.update_or_create(date=day, defaults={"kind": kind, "name": name or ""})
            out.append({"date": day.isoformat(), "kind": kind, "name": name or ""})
        _publish_days(out)
    refcache_reset_all()
    return len(out)


def calendar_days_announce(*, days: list[tuple[date, str | None, str]]) -> None:
    """Publish days already written (the admin saves the row itself): [(date, kind or None, name)]."""
    from governance.services.refcache import refcache_reset_all

    _publish_days([{"date": d.isoformat(), "kind": k, "name": n or ""} for d, k, n in days])
    refcache_reset_all()


def calendar_publish(*, start: date | None = None, end: date | None = None) -> int:
    """Tell the subscribers every exception in [start, end] again (a resync after a restore)."""
    qs = CalendarDay.objects.order_by("date")
    if start:
        qs = qs.filter(date__gte=start)
    if end:
        qs = qs.filter(date__lte=end)
    days = [{"date": d.date.isoformat(), "kind": d.kind, "name": d.name} for d in qs]
    _publish_days(days)
    return len(days)
