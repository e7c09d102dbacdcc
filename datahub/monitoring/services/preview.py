"""Rule preview: replay the last 7 days and show when a rule would have fired.

Series rules read their data through a pluggable *series reader*, so this module does not depend
on the observation store (built on another branch). A reader is a function
`reader(scope: dict, since: datetime, until: datetime) -> Iterable[dict]` returning observations
shaped like `on_observations` input; `scope` has "metric" (or "metrics" for combinations),
"device_type", "area_ids" (set or None), "subject_id" and "datastream_id". The default reader
returns nothing; the integrator registers the observation-store reader with
`register_series_reader(fn)` (e.g. in DatahubConfig.ready()).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from datahub.core.models import Event
from datahub.monitoring.services import engine
from datahub.monitoring.services import evaluators as ev
from datahub.monitoring.services.evaluate import replay_series, to_datetime
from datahub.monitoring.services.rules import area_children, rule_validate

SeriesReader = Callable[[dict, datetime, datetime], Iterable[dict]]


def _no_series(scope: dict, since: datetime, until: datetime) -> Iterable[dict]:
    return ()


_readers: list[SeriesReader] = [_no_series]


def register_series_reader(reader: SeriesReader) -> None:
    """Make `reader` the series reader previews use (the last registered wins)."""
    _readers.append(reader)


def unregister_series_reader(reader: SeriesReader) -> None:
    if reader in _readers and reader is not _no_series:
        _readers.remove(reader)


def series_reader(scope: dict, since: datetime, until: datetime) -> Iterable[dict]:
    return _readers[-1](scope, since, until)


def rule_preview(*, rule: dict, until: datetime | None = None, days: int = 7) -> dict:
    """Replay `days` of data up to `until` through a rule given as plain data (saved or not).

    Returns {"since", "until", "episodes": [{"subject_key", "raised_at", "cleared_at", "value"}],
    "points": n}. Raises evaluators.RuleParamError naming a bad parameter.
    """
    until = until or timezone.now()
    since = until - timedelta(days=days)
    kind = rule["kind"]
    params = rule_validate(kind=kind, params=rule.get("params") or {}, metric=rule.get("metric") or "")
    children = area_children()
    area_ids = engine.descendants(rule["area_id"], children) if rule.get("area_id") else None
    if kind == "event_count":
        episodes, points = _preview_events(params, area_ids, since, until)
    else:
        compiled = engine.compile_rule({**rule, "params": params}, children)
        scope = {
            "metric": compiled.metric,
            "metrics": list(compiled.evaluator.metrics) if kind == "combination" else [compiled.metric],
            "device_type": compiled.device_type,
            "area_ids": area_ids,
            "subject_id": compiled.subject_id,
            "datastream_id": compiled.datastream_id,
        }
        observations = list(series_reader(scope, since, until))
        points = len(observations)
        episodes = replay_series(compiled, observations, until=until.timestamp())
    return {"since": since, "until": until, "episodes": episodes, "points": points}


def _preview_events(params: dict, area_ids, since: datetime, until: datetime) -> tuple[list[dict], int]:
    # Events from one window before `since`, so the window is full at the start of the replay.
    qs = Event.objects.filter(
        type=params["event_type"],
        occurred_at__gt=since - timedelta(seconds=params["window_s"]),
        occurred_at__lte=until,
    ).exclude(area_id=None)
    if area_ids is not None:
        qs = qs.filter(area_id__in=area_ids)
    per_area: dict[int, list[float]] = defaultdict(list)
    n = 0
    for area_id, at in qs.order_by("occurred_at", "id").values_list("area_id", "occurred_at"):
        per_area[area_id].append(at.timestamp())
        n += 1
    episodes = []
    for area_id, times in per_area.items():
        open_ep = None
        for action, at, value in ev.event_count_replay(
            times,
            window_s=params["window_s"],
            count=params["count"],
            clear_count=params["clear_count"],
            until=until.timestamp(),
        ):
            if action == ev.RAISE:
                open_ep = {
                    "subject_key": f"area:{area_id}",
                    "raised_at": to_datetime(at),
                    "cleared_at": None,
                    "value": value,
                }
                episodes.append(open_ep)
            elif open_ep is not None:
                open_ep["cleared_at"] = to_datetime(at)
                open_ep = None
    since_ok = [e for e in episodes if e["cleared_at"] is None or e["cleared_at"] >= since]
    return sorted(since_ok, key=lambda e: e["raised_at"]), n
