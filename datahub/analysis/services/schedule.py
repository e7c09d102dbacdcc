"""The analysis beat jobs, ensured idempotently (migration 0013 creates them on migrate; this
restores them after a database flush and is what `manage.py`-less setups call)."""

from django.conf import settings


def beat_schedule_ensure() -> int:
    """Create the hourly situation detection and the 07:00 city-time briefing if missing; returns
    how many were created (existing ones, possibly edited in the admin, are left as they are)."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = 0
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    _, new = PeriodicTask.objects.get_or_create(
        name="datahub.analysis_detect_situations",
        defaults={"task": "datahub.analysis_detect_situations", "interval": hourly},
    )
    created += new
    seven, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    _, new = PeriodicTask.objects.get_or_create(
        name="datahub.analysis_daily_briefing", defaults={"task": "datahub.analysis_daily_briefing", "crontab": seven}
    )
    return created + new
