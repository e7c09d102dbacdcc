"""Rule evaluation on the ingest path (`on_series`) and in beat tasks (heartbeats, event counts).

`on_series(series)` is what the IoT ingest calls after each committed batch (through
observations.on_ingest_batch, readings grouped per datastream); `on_observations(batch)` takes
observation dicts (tests, benchmarks, replays). Per batch it costs one Redis GET (rule-set version), one MGET of the touched (rule, subject) states and one
MSET of them back, plus ~1-2 µs of Python per (observation, matching rule); the database is
touched only when an alert is raised or cleared. State lives in Redis under
`<prefix>:mon:st:<subject key>` (one JSON object per subject: {"<rule id>.<revision>": state}),
so a restarted process resumes where the last one stopped (e.g. inside a 2-hour threshold run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import ujson
from django.db.models import Count
from django.utils import timezone

from datahub.core.models import Event
from datahub.monitoring.models import Alert, AlertRule
from datahub.monitoring.services import alerts, engine
from datahub.monitoring.services import evaluators as ev
from datahub.monitoring.services.rules import key, redis_client, rule_index

log = logging.getLogger(__name__)
# A transition of our own (evaluators emit RAISE and CLEAR): a historical alert seen live.
PROMOTE = "promote"


def epoch(value) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.timestamp()


def to_datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def on_observations(batch: list[dict], *, backfill: bool = False) -> int:
    """Evaluate every active rule that the batch's observations fall under; returns transitions.

    Each observation is a dict {"datastream_id", "time" (aware datetime, ISO string or epoch s),
    "value", "metric", "device_type", "area_id", "subject_id"}. Observations of one datastream
    should come in time order; older-or-equal times than the state has seen are ignored.

    The states of every rule watching one subject (datastream, or entity for combinations) are one
    Redis value, so a batch costs one MGET and one MSET whatever the number of rules per subject.
    """
    if not batch:
        return 0
    index = rule_index()
    if not index.metrics:
        return 0
    # Routed per observation (each is its own description); see on_series for the ingest path.
    work: dict[str, list] = {}
    route = index.route
    for o in batch:
        groups = route(o)
        v = o.get("value")
        if not groups or v is None:
            continue
        t = epoch(o["time"])
        for skey, rules_ in groups:
            w = work.get(skey)
            if w is None:
                w = work[skey] = []
            w.append((t, rules_, v, o))
    return _evaluate(index, work, backfill=backfill)


def on_series(series: list[tuple[dict, list]], *, backfill: bool = False) -> int:
    """`on_observations` for readings grouped by datastream: [(description, [(ds, epoch s, value)…])].

    The description is the datastream's {"datastream_id", "metric", "device_type", "area_id",
    "subject_id"}; its readings should be in time order. The ingest path calls this: routing is
    done once per datastream instead of once per reading, and no dict is built per reading.
    """
    if not series:
        return 0
    index = rule_index()
    if not index.metrics:
        return 0
    work: dict[str, list] = {}
    route = index.route
    for o, readings in series:
        for skey, rules_ in route(o):
            w = work.get(skey)
            if w is None:
                w = work[skey] = []
            w.extend([(t, rules_, v, o) for _ds, t, v in readings if v is not None])
    return _evaluate(index, work, backfill=backfill)


# Key in a rule's per-subject state: set while the open alert was raised by history (see below).
HISTORY_MARK = "_h"


def _evaluate(index, work: dict[str, list], *, backfill: bool = False) -> int:
    """Step every (reading, rule) of the work through its evaluator; apply the transitions.

    History (a backfill batch, or a reading older than the rule's live horizon) is evaluated like
    live data — the state stays true to the series — but what it raises is marked historical (no
    notification, escalation or case). If the condition a backfill left raised still holds when
    live readings arrive, the first live reading promotes the alert to a live one (it pages then).
    """
    if not work:
        return 0
    now = time.time()
    r = redis_client()
    prefix = key("st:")
    keys = list(work)
    blobs = r.mget([prefix + k for k in keys])
    out: dict[str, str] = {}
    dead: list[str] = []
    deadlines: dict[str, float] = {}
    transitions = []
    live = index.state_prefixes
    for skey, blob in zip(keys, blobs, strict=True):
        items = work[skey]
        states = ujson.loads(blob) if blob else {}
        if len(items) > 1:
            items.sort(key=_by_time)
        for t, rules_, v, o in items:
            for rule, child in rules_:
                sp = rule.state_prefix
                st = states.get(sp)
                if st is None:
                    if v <= rule.noop_le or v >= rule.noop_ge:
                        continue  # idle threshold, safe value: nothing to do (the common case)
                    st = states[sp] = {}
                trs = rule.step(st, t, v) if child is None else rule.evaluator.step_child(st, child, t, v)
                historical = backfill or t < now - rule.horizon_s
                for tr in trs:
                    transitions.append((rule, skey, tr, o, historical))
                    if tr[0] == ev.RAISE and historical:
                        st[HISTORY_MARK] = 1
                    elif st.get(HISTORY_MARK):
                        st.pop(HISTORY_MARK, None)
                if not historical and st.get(HISTORY_MARK) and not trs:
                    # Still raised from history, and now seen live: the alert pages from here on.
                    st.pop(HISTORY_MARK, None)
                    transitions.append((rule, skey, (PROMOTE, t, v), o, False))
                if rule.kind == "no_data":
                    st["o"] = [o.get("datastream_id"), o.get("area_id"), o.get("subject_id")]
                    # One sorted set for every no-data rule, scored by when silence becomes an
                    # outage: one ZADD per batch, and the beat reads only what is overdue.
                    deadlines[f"{sp}|{skey}"] = st["t"] + rule.evaluator.timeout
        # Drop idle states and those of deleted or edited rules (prefix no longer live).
        for sp in [sp for sp, st in states.items() if not st or sp not in live]:
            del states[sp]
        if states:
            blob_out = ujson.dumps(states)
            if blob_out != (blob.decode() if blob else None):
                out[prefix + skey] = blob_out
        elif blob:
            dead.append(prefix + skey)
    if out or deadlines or dead:
        pipe = r.pipeline(transaction=False)
        if out:
            pipe.mset(out)  # only states that changed: idle threshold subjects cost no write
        if dead:
            pipe.delete(*dead)
        if deadlines:
            pipe.zadd(key("deadlines"), deadlines)
        pipe.execute()
    for rule, skey, tr, o, historical in transitions:
        obs = {k: o.get(k) for k in ("datastream_id", "area_id", "subject_id")}
        if historical:
            obs["historical"] = True
        try:
            apply_transition(rule_id=rule.id, subject_key=skey, transition=tr, obs=obs)
        except Exception:
            # The state has moved on, so the transition must not be lost: a Celery task retries it
            # (with backoff) and the ingest path that called us carries on.
            log.exception("alert transition %s for rule %s / %s failed; retrying in a task", tr[0], rule.id, skey)
            from datahub.monitoring.tasks import apply_transition_later

            apply_transition_later.delay(rule.id, skey, list(tr), obs)
    return len(transitions)


def _by_time(item: tuple) -> float:
    return item[0]


def apply_transition(*, rule_id: int, subject_key: str, transition: tuple, obs: dict) -> None:
    action, t, value = transition
    rule = AlertRule.objects.filter(id=rule_id).first()
    if rule is None:
        return
    at = to_datetime(t)
    if action == PROMOTE:
        alerts.alert_promote_for(rule=rule, subject_key=subject_key, at=at, value=value)
    elif action == ev.RAISE:
        alerts.alert_raise(
            rule=rule,
            subject_key=subject_key,
            at=at,
            value=value,
            datastream_id=obs.get("datastream_id"),
            area_id=obs.get("area_id"),
            subject_id=obs.get("subject_id"),
            historical=bool(obs.get("historical")),
        )
    else:
        alerts.alert_clear_for(rule=rule, subject_key=subject_key, at=at, value=value)


def heartbeats_check(*, now: datetime | None = None) -> int:
    """Raise "no data" alerts for subjects silent longer than their rule's timeout (beat task).

    Reads only the overdue members of the deadlines sorted set ("<rule>.<revision>|<subject>").
    """
    now_t = (now or timezone.now()).timestamp()
    index = rule_index()
    by_prefix = {r.state_prefix: r for r in index.rules.values() if r.kind == "no_data"}
    r = redis_client()
    zkey = key("deadlines")
    raised = 0
    for member in r.zrangebyscore(zkey, "-inf", now_t):
        sp, skey = member.decode().split("|", 1)
        r.zrem(zkey, member)
        rule = by_prefix.get(sp)
        if rule is None:
            continue  # the rule was deleted or edited since
        blob = r.get(key("st:") + skey)
        states = ujson.loads(blob) if blob else {}
        st = states.setdefault(sp, {})
        trs = rule.evaluator.check(st, now_t)
        r.set(key("st:") + skey, ujson.dumps(states))
        ds, area, subject = (st.get("o") or [None, None, None])[:3]
        for tr in trs:
            apply_transition(
                rule_id=rule.id,
                subject_key=skey,
                transition=tr,
                obs={"datastream_id": ds, "area_id": area, "subject_id": subject},
            )
            raised += 1
    return raised


# --- event-count rules over the datahub's Event table -------------------------------------------


def event_rules_evaluate(
    *, event_type: str | None = None, area_id: int | None = None, now: datetime | None = None
) -> int:
    """Raise / clear event-count alerts, per area of the rule's scope; returns transitions.

    Called for one (type, area) when an event is recorded, and for every rule and area by the
    beat task (which is what clears alerts once old events leave the window). One grouped COUNT
    per rule, on the (area, type, occurred_at) index.
    """
    now = now or timezone.now()
    changes = 0
    for rule_row in rule_index().event_rules:
        p = rule_row["params"]
        if event_type is not None and p["event_type"] != event_type:
            continue
        scope = rule_row["area_ids"]
        if area_id is not None and scope is not None and area_id not in scope:
            continue
        qs = Event.objects.filter(
            type=p["event_type"], occurred_at__gt=now - timedelta(seconds=p["window_s"]), occurred_at__lte=now
        ).exclude(area_id=None)
        if area_id is not None:
            qs = qs.filter(area_id=area_id)
        elif scope is not None:
            qs = qs.filter(area_id__in=scope)
        counts = dict(qs.values_list("area_id").annotate(n=Count("id")).order_by())
        open_alerts = Alert.objects.filter(rule_id=rule_row["id"], status="active")
        if area_id is not None:
            open_alerts = open_alerts.filter(subject_key=f"area:{area_id}")
        open_by_key = {a.subject_key: a for a in open_alerts}
        rule = None
        for a_id, n in counts.items():
            if n >= p["count"] and f"area:{a_id}" not in open_by_key:
                rule = rule or AlertRule.objects.get(id=rule_row["id"])
                alerts.alert_raise(rule=rule, subject_key=f"area:{a_id}", at=now, value=float(n), area_id=a_id)
                changes += 1
        for skey, alert in open_by_key.items():
            n = counts.get(int(skey.split(":")[1]), 0)
            if n < p["clear_count"]:
                alerts.alert_clear(alert=alert, at=now, reason="recovered", value=float(n))
                changes += 1
    return changes


def on_event_recorded(payload: dict) -> None:
    """Bus handler for "datahub.event_recorded": evaluate the event-count rules of its type and area."""
    event_type = payload.get("type") or ""
    if event_type.startswith("alert."):
        return  # our own feedback events: counting them would let rules trigger each other
    if not any(r["params"]["event_type"] == event_type for r in rule_index().event_rules):
        return
    if payload.get("area_id") is None:
        return
    event_rules_evaluate(event_type=event_type, area_id=payload["area_id"])


def replay_series(rule: engine.CompiledRule, observations: Iterable[dict], *, until: float) -> list[dict]:
    """Run a compiled rule over observations in memory (no Redis, no alerts): the preview.

    Returns the episodes: [{"subject_key", "raised_at", "cleared_at" (None if still open), "value"}].
    """
    states: dict[str, dict] = {}
    open_: dict[str, dict] = {}
    episodes: list[dict] = []
    rows = sorted(((epoch(o["time"]), o) for o in observations if o.get("value") is not None), key=lambda x: x[0])
    for t, o in rows:
        for _rule, child in (
            [(rule, i) for i, m in enumerate(rule.evaluator.metrics) if m == o.get("metric")]
            if rule.kind == "combination"
            else [(rule, None)]
        ):
            if not rule.matches(o):
                continue
            skey = rule.subject_key(o)
            st = states.setdefault(skey, {})
            for action, at, value in engine.step(rule, child, st, t, o["value"]):
                if action == ev.RAISE:
                    ep = {"subject_key": skey, "raised_at": to_datetime(at), "cleared_at": None, "value": value}
                    open_[skey] = ep
                    episodes.append(ep)
                elif skey in open_:
                    open_.pop(skey)["cleared_at"] = to_datetime(at)
    if rule.kind == "no_data":
        for skey, st in states.items():
            for _action, at, value in rule.evaluator.check(st, until):
                episodes.append({"subject_key": skey, "raised_at": to_datetime(at), "cleared_at": None, "value": value})
    return sorted(episodes, key=lambda e: e["raised_at"])
