"""The periodic jobs of the livelihood wing as django-celery-beat rows (idempotent, get_or_create by name)."""

JOBS = [
    ("livelihood: generate appointment slots (30 days ahead)", "livelihood.slots_generate", {"crontab": ("10", "1")}),
    ("livelihood: appointment reminders", "livelihood.appointments_remind", {"every": 15}),
    ("livelihood: announce scheduled notices", "livelihood.notices_announce_due", {"every": 1}),
    ("livelihood: notice digests for area subscribers", "livelihood.notices_send_digests", {"crontab": ("0", "8")}),
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
                minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
            )
            extra = {"crontab": sched}
        _, was_created = PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "enabled": True, **extra}
        )
        created += was_created
    return created
