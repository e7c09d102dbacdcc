"""Analysis factories: demo-like event series written straight into the event log."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.contrib.gis.geos import Point

from datahub.models import Event

CITY = ZoneInfo("Asia/Shanghai")


def city_dt(d: date, hour: int = 0) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=CITY)


def demo_daily_counts(days: int, *, seed: int = 7, base: float = 30.0, shift_at: int | None = None, shift: float = 0.0):
    """Demo-like daily case intake: a slow trend, a weekly cycle (weekends quieter), Poisson noise,
    optionally a level shift from day `shift_at`."""
    rng = np.random.default_rng(seed)
    d = np.arange(days)
    lam = base + 0.03 * d + 5 * np.sin(2 * np.pi * d / 7) - 9 * (d % 7 >= 5)
    if shift_at is not None:
        lam = lam + shift * (d >= shift_at)
    return rng.poisson(np.clip(lam, 1, None))


def write_daily_events(counts, *, start: date, type: str = "case.received", area=None, payload=None, lonlat=None):  # noqa: A002
    """`counts[i]` events on day start+i, spread over the day's hours (city time)."""
    rows = []
    for i, n in enumerate(counts):
        day = start + timedelta(days=int(i))
        for k in range(int(n)):
            at = city_dt(day, 8) + timedelta(minutes=(k * 37) % 600)
            rows.append(
                Event(
                    type=type,
                    occurred_at=at,
                    area=area,
                    location=Point(*lonlat, srid=4326) if lonlat else None,
                    payload=dict(payload or {}),
                )
            )
    Event.objects.bulk_create(rows, batch_size=5000)
    return len(rows)
