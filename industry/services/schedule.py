"""The industry wing's periodic jobs as django-celery-beat rows (admins see and change them).
Idempotent: a job an admin disabled or re-timed is left as it is (get_or_create by name)."""

JOBS = [
    ("industry: recompute risk of every enterprise", "industry.risk_recompute", ("15", "2")),
    ("industry: re-run policy matching", "industry.match", ("45", "2")),
]


def beat_schedule_ensure(*, apps=None) -> int:
    if apps is not None:  # inside a migration: the historical models
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    else:
        from django_celery_beat.models import CrontabSchedule, PeriodicTask
    created = 0
    for name, task, (minute, hour) in JOBS:
        sched, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
        )
        _, was_created = PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": sched})
        created += was_created
    return created
