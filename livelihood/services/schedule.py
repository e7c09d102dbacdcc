"""The periodic jobs of the livelihood wing as django-celery-beat rows (created idempotently by cityos.beat)."""

from cityos.beat import beat_jobs_ensure

JOBS = [
    ("livelihood: generate appointment slots (30 days ahead)", "livelihood.slots_generate", {"crontab": ("10", "1")}),
    ("livelihood: appointment reminders", "livelihood.appointments_remind", {"every": 15}),
    ("livelihood: announce scheduled notices", "livelihood.notices_announce_due", {"every": 1}),
    ("livelihood: notice digests for area subscribers", "livelihood.notices_send_digests", {"crontab": ("0", "8")}),
]


def beat_schedule_ensure(*, apps=None) -> int:
    return beat_jobs_ensure(JOBS, apps=apps)
