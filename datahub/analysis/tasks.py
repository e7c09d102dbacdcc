"""Celery tasks of analysis: ids and primitives in, one service call, safe to run twice."""

from datetime import date, timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone


@shared_task(
    name="datahub.analysis_detect_situations",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=300,
)
def detect_situations(hours: int = 24) -> list[int]:
    """Beat (hourly): situations in the last `hours`; a rerun extends, never duplicates."""
    from .services.situations import situations_detect

    return [s.id for s in situations_detect(until=timezone.now(), window=timedelta(hours=hours))]


@shared_task(
    name="datahub.analysis_daily_briefing",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=600,
)
def daily_briefing(day: str | None = None, send: bool = True) -> int | None:
    """Beat (07:00 city time): yesterday's briefing, then the e-mail to city leaders (once)."""
    from .services.briefing import briefing_generate, briefing_send

    d = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    briefing = briefing_generate(day=d)
    if send and briefing.status == "ready":
        briefing_send(briefing_id=briefing.id)
    return briefing.id


@shared_task(
    name="datahub.analysis_briefing_run",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=600,
)
def briefing_run(briefing_id: int) -> int:
    """On demand: (re)generate a queued briefing by id, reporting progress on it."""
    from .services.briefing import briefing_build

    return briefing_build(briefing_id=briefing_id).id


@shared_task(bind=True, name="datahub.analysis_hotspots_job", acks_late=True, soft_time_limit=900, time_limit=960)
def hotspots_job(self, params: dict, user_id: int) -> dict:
    """A long hotspot analysis (many windows, many permutations) in the background; the state
    carries the progress (0..1) and the owner, so only they can read it."""
    from datetime import datetime, timedelta

    from django.contrib.auth import get_user_model

    from .services.hotspots import hotspots

    user = get_user_model().objects.get(id=user_id)

    def progress(p: float) -> None:
        if self.request.id:
            self.update_state(state="PROGRESS", meta={"progress": round(p, 3), "user_id": user_id})

    kw = dict(params)
    kw["until"] = datetime.fromisoformat(kw["until"])
    kw["window"] = timedelta(seconds=kw["window"])
    return {"user_id": user_id, "result": hotspots(user=user, progress=progress, **kw)}
