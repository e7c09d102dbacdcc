"""Tracking numbers: BJ20261124-000123 — prefix, local date, per-day sequence."""

from datetime import date, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone


def _prefix() -> str:
    return getattr(settings, "GOVERNANCE_TRACKING_PREFIX", "BJ")


def tracking_numbers_allocate(*, day: date, count: int = 1) -> list[str]:
    """Reserve `count` consecutive numbers of `day` in one statement (safe under concurrency:
    the row lock of INSERT … ON CONFLICT serialises writers of the same day)."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO governance_trackingcounter (day, last) VALUES (%s, %s) "
            "ON CONFLICT (day) DO UPDATE SET last = governance_trackingcounter.last + EXCLUDED.last RETURNING last",
            [day, count],
        )
        last = cur.fetchone()[0]
    return [f"{_prefix()}{day:%Y%m%d}-{n:06d}" for n in range(last - count + 1, last + 1)]


def tracking_number_next(*, at: datetime | None = None) -> str:
    return tracking_numbers_allocate(day=timezone.localtime(at or timezone.now()).date())[0]
