"""The periodic jobs of governance as django-celery-beat rows (admins see and change them in admin;
created idempotently by cityos.beat)."""

from cityos.beat import beat_jobs_ensure

JOBS = [
    ("governance: SLA clocks (warnings, escalations, supervision)", "governance.sla_scan", {"every": 5}),
    ("governance: retrain the case classifier", "governance.train_classifier", {"crontab": ("30", "3")}),
]


def beat_schedule_ensure(*, apps=None) -> int:
    return beat_jobs_ensure(JOBS, apps=apps)
