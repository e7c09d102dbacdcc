"""Public-opinion alerts: negative-sentiment spikes per district and topic against a rolling baseline,
recorded as datahub events (`opinion.negative_spike`) that monitoring rules alert on."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from datahub.core.models import Event
from datahub.core.services import events as events_service
from datahub.text.models import Document

SPIKE_EVENT = "opinion.negative_spike"


@dataclass(frozen=True)
class Spike:
    area_id: int
    topic: str
    count: int
    baseline_mean: float
    baseline_std: float
    window_start: datetime
    window_end: datetime
    event_id: int | None


def opinion_detect_spikes(
    *,
    now: datetime | None = None,
    window_hours: int = 6,
    baseline_days: int = 7,
    min_count: int = 5,
    z: float = 3.0,
    ratio: float = 2.0,
) -> list[Spike]:
    """A (district, topic) spikes when its negative posts in the last window are ≥ `min_count`,
    ≥ `ratio` × the baseline mean per window and above mean + `z`·std (Poisson-floored std, so a quiet
    baseline does not turn 2 posts into a spike). Each window is recorded once (object_ref)."""
    now = now or timezone.now()
    # Windows are aligned to the hour so re-runs within the hour judge the same window.
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=window_hours)
    base_start = start - timedelta(days=baseline_days)
    windows = baseline_days * 24 / window_hours
    neg = Document.objects.filter(sentiment="negative", district__isnull=False)
    current = {
        (r["district_id"], r["topic"]): r["n"]
        for r in neg.filter(published_at__gte=start, published_at__lt=end)
        .values("district_id", "topic")
        .annotate(n=Count("id"))
        .order_by()
        if r["n"] >= min_count
    }
    if not current:
        return []
    hourly = (
        neg.filter(published_at__gte=base_start, published_at__lt=start, district_id__in={k[0] for k in current})
        .annotate(h=TruncHour("published_at"))
        .values("district_id", "topic", "h")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_window: dict[tuple, dict[int, int]] = {}
    for r in hourly:
        slot = int((r["h"] - base_start).total_seconds() // (window_hours * 3600))
        bucket = per_window.setdefault((r["district_id"], r["topic"]), {})
        bucket[slot] = bucket.get(slot, 0) + r["n"]
    spikes = []
    for (area_id, topic), count in sorted(current.items()):
        counts = per_window.get((area_id, topic), {})
        mean = sum(counts.values()) / windows
        var = sum((counts.get(i, 0) - mean) ** 2 for i in range(int(windows))) / windows
        std = max(math.sqrt(var), math.sqrt(max(mean, 1.0)))
        if count < ratio * mean or count < mean + z * std:
            continue
        ref = f"opinion:{area_id}:{topic}:{start:%Y%m%d%H}"
        existing = Event.objects.filter(type=SPIKE_EVENT, object_ref=ref).values_list("id", flat=True).first()
        event_id = existing or events_service.event_record(
            type=SPIKE_EVENT,
            occurred_at=now,
            area_id=area_id,
            object_ref=ref,
            payload={
                "topic": topic,
                "count": count,
                "baseline_mean": round(mean, 2),
                "baseline_std": round(std, 2),
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
            },
        )
        spikes.append(Spike(area_id, topic, count, round(mean, 2), round(std, 2), start, end, event_id))
    return spikes
