"""The periodic jobs of governance as django-celery-beat rows (admins see and change them in admin).

Idempotent: called by the data migration and by the demo step; a job an admin disabled or
re-timed is left as it is (get_or_create by name).
"""

JOBS = [
    ("governance: SLA clocks (warnings, escalations, supervision)", "governance.sla_scan", {"every": 5}),
    ("governance: retrain the case classifier", "governance.train_classifier", {"crontab": ("30", "3")}),
]


def beat_schedule_ensure(*, apps=None) -> int:
    if apps is not None:  # inside a migration: the historical models
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    else:
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
    created = 0
    for name, task, when in JOBS:
        if "every" in when:
            sched, _ = IntervalSchedule.objects.get_or_create(every=when["every"], period="minutes")
            extra = {"interval": sched}
        else:
            minute, hour = when["crontab"]
            sched, _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone="Asia/Shanghai",
            )
            extra = {"crontab": sched}
        _, was_created = PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "enabled": True, **extra}
        )
        created += was_created
    return created
