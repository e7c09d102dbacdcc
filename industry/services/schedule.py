"""The industry wing's periodic jobs as django-celery-beat rows (admins see and change them; created
idempotently by cityos.beat)."""

from cityos.beat import beat_jobs_ensure

JOBS = [
    ("industry: recompute risk of every enterprise", "industry.risk_recompute", {"crontab": ("15", "2")}),
    ("industry: re-run policy matching", "industry.match", {"crontab": ("45", "2")}),
]


def beat_schedule_ensure(*, apps=None) -> int:
    return beat_jobs_ensure(JOBS, apps=apps)
