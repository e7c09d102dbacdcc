"""Periodic jobs as django-celery-beat rows, one helper for every app's list of jobs.

Each app states its jobs as `(name, task, when)` with `when` either `{"every": N}` (minutes, or
`"period": "hours"`) or `{"crontab": (minute, hour)}` in the city's time zone. Idempotent: a job is
found by name, so one an admin disabled or re-timed in the admin is left as it is. Called by the
apps' data migrations (with the historical `apps`) and by the demo steps.
"""

from django.conf import settings


def beat_jobs_ensure(jobs, *, apps=None) -> int:
    """Create the missing jobs; returns how many were created."""
    if apps is not None:  # inside a migration: the historical models
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    else:
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
    created = 0
    for name, task, when in jobs:
        if "every" in when:
            sched, _ = IntervalSchedule.objects.get_or_create(every=when["every"], period=when.get("period", "minutes"))
            extra = {"interval": sched}
        else:
            minute, hour = when["crontab"]
            sched, _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            extra = {"crontab": sched}
        _, was_created = PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "enabled": True, **extra})
        created += was_created
    return created
