"""The analysis beat jobs, ensured idempotently (migration 0013 creates them on migrate; this
restores them after a database flush and is what `manage.py`-less setups call)."""

from cityos.beat import beat_jobs_ensure

JOBS = [
    ("datahub.analysis_detect_situations", "datahub.analysis_detect_situations", {"every": 1, "period": "hours"}),
    ("datahub.analysis_daily_briefing", "datahub.analysis_daily_briefing", {"crontab": ("0", "7")}),
]


def beat_schedule_ensure() -> int:
    """Create the hourly situation detection and the 07:00 city-time briefing if missing; returns
    how many were created (existing ones, possibly edited in the admin, are left as they are)."""
    return beat_jobs_ensure(JOBS)
