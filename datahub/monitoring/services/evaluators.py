"""Pure, incremental rule evaluators over (time, value) sequences.

No database, no Redis: an evaluator is built once from a rule's parameters and then stepped with
a small JSON-serialisable state dict per (rule, subject) and one sample at a time (`t` is epoch
seconds, `v` a float). `step` returns transitions: () almost always, else a tuple of
`(RAISE|CLEAR, t, value)`. The state's "a" key is 1 while the condition holds (alert open).

Hysteresis: every evaluator raises on one condition and clears on a separate, easier one
(`clear_threshold`, `clear_duration_s`, `clear_rate_per_hour`, `clear_z`), so a value hovering
at the threshold does not flap.

Cost: a threshold step is ~1 µs in CPython (dict gets and one comparison); that is what lets
10,000 rules sit on the ingest path.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

RAISE = "raise"
CLEAR = "clear"
NONE: tuple = ()

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class RuleParamError(ValueError):
    """A rule's parameters are invalid; the message names the parameter."""


def _num(p: dict, key: str, default: float | None = None, *, minimum: float | None = None) -> float:
    raw = p.get(key, default)
    if raw is None:
        raise RuleParamError(f"params.{key} is required")
    try:
        val = float(raw)
    except (TypeError, ValueError):
        raise RuleParamError(f"params.{key} must be a number, got {raw!r}") from None
    if val != val:  # NaN
        raise RuleParamError(f"params.{key} must be a number, got NaN")
    if minimum is not None and val < minimum:
        raise RuleParamError(f"params.{key} must be >= {minimum}")
    return val


def _op(p: dict) -> str:
    op = p.get("op", ">")
    if op not in OPS:
        raise RuleParamError(f"params.op must be one of {', '.join(OPS)}, got {op!r}")
    return op


class Threshold:
    """`value <op> threshold` held for `duration_s` (e.g. PM2.5 > 150 for 2 hours).

    Raises at the first sample at which every sample since the run's first breaching sample has
    breached and that first sample is >= duration_s old. Clears once every sample for
    `clear_duration_s` is back on the safe side of `clear_threshold` (default: the threshold).
    A gap between samples longer than `max_gap_s` (0 = never) restarts a run: missing data is
    not evidence that the condition held.
    """

    kind = "threshold"

    def __init__(self, p: dict):
        self.op = _op(p)
        self.cmp = OPS[self.op]
        self.threshold = _num(p, "threshold")
        self.duration = _num(p, "duration_s", 0, minimum=0)
        self.clear_threshold = _num(p, "clear_threshold", self.threshold)
        self.clear_duration = _num(p, "clear_duration_s", 0, minimum=0)
        self.max_gap = _num(p, "max_gap_s", 0, minimum=0)
        if self.op in (">", ">=") and self.clear_threshold > self.threshold:
            raise RuleParamError("params.clear_threshold must be <= threshold for '>' rules (hysteresis)")
        if self.op in ("<", "<=") and self.clear_threshold < self.threshold:
            raise RuleParamError("params.clear_threshold must be >= threshold for '<' rules (hysteresis)")

    def step(self, st: dict, t: float, v: float) -> tuple:
        if not st:
            # Idle (inactive, no run under way): the common case on the ingest path. Nothing is
            # stored for an idle subject, so its state is not rewritten to Redis at every sample.
            if not self.cmp(v, self.threshold):
                return NONE
            st["t"] = st["rs"] = t
            if self.duration <= 0:
                st["a"] = 1
                del st["rs"]
                return ((RAISE, t, v),)
            return NONE
        last = st.get("t")
        if last is not None and t <= last:
            return NONE  # duplicate or out of order: already evaluated
        reset = self.max_gap and last is not None and t - last > self.max_gap
        st["t"] = t
        if not st.get("a"):
            if self.cmp(v, self.threshold):
                rs = st.get("rs")
                if rs is None or reset:
                    rs = st["rs"] = t
                if t - rs >= self.duration:
                    st["a"] = 1
                    st.pop("rs", None)
                    return ((RAISE, t, v),)
            else:
                st.clear()  # back to idle
            return NONE
        if not self.cmp(v, self.clear_threshold):
            cs = st.get("cs")
            if cs is None or reset:
                cs = st["cs"] = t
            if t - cs >= self.clear_duration:
                st["a"] = 0
                st.pop("cs", None)
                return ((CLEAR, t, v),)
        elif "cs" in st:
            del st["cs"]
        return NONE


class RateOfChange:
    """|Δvalue/Δt| per hour between consecutive samples reaches `rate_per_hour`.

    `direction`: "rise", "fall" or "both". Clears when the rate drops below `clear_rate_per_hour`
    (default: half the raise rate). Consecutive samples further apart than `max_gap_s` (0 = never)
    give no rate. `min_span_s` measures the rate over at least that span (from a reference sample
    moved forward once the span has passed) instead of between consecutive samples: sensors that
    report every 10 s would otherwise turn ±5 µg/m³ of noise into a "rate" of 1,800 per hour.
    """

    kind = "rate_of_change"

    def __init__(self, p: dict):
        self.rate = _num(p, "rate_per_hour", minimum=0)
        self.clear_rate = _num(p, "clear_rate_per_hour", self.rate / 2, minimum=0)
        if self.clear_rate > self.rate:
            raise RuleParamError("params.clear_rate_per_hour must be <= rate_per_hour (hysteresis)")
        self.direction = p.get("direction", "both")
        if self.direction not in ("rise", "fall", "both"):
            raise RuleParamError("params.direction must be rise, fall or both")
        self.max_gap = _num(p, "max_gap_s", 0, minimum=0)
        self.min_span = _num(p, "min_span_s", 0, minimum=0)

    def step(self, st: dict, t: float, v: float) -> tuple:
        # "t"/"v" is the reference sample the rate is measured from; "l" the last sample's time.
        last = st.get("l", st.get("t"))
        if last is not None and t <= last:
            return NONE
        st["l"] = t
        if st.get("t") is None or (self.max_gap and t - last > self.max_gap):
            st["t"], st["v"] = t, v
            return NONE
        if t - st["t"] < self.min_span:
            return NONE
        pt, pv = st["t"], st["v"]
        st["t"], st["v"] = t, v
        r = (v - pv) * 3600.0 / (t - pt)
        m = r if self.direction == "rise" else -r if self.direction == "fall" else abs(r)
        if not st.get("a"):
            if m >= self.rate:
                st["a"] = 1
                return ((RAISE, t, v),)
        elif m < self.clear_rate:
            st["a"] = 0
            return ((CLEAR, t, v),)
        return NONE


class NoData:
    """No sample for `timeout_s`: the device is offline (heartbeat).

    Live, the beat task calls `check(state, now)` to raise; the next sample clears. When a sample
    arrives after a longer gap without a check having raised (a restart, or a replay), `step`
    records the outage retroactively: raised at last_seen + timeout, cleared at the sample.
    """

    kind = "no_data"

    def __init__(self, p: dict):
        self.timeout = _num(p, "timeout_s", minimum=1)

    def step(self, st: dict, t: float, v: float) -> tuple:
        last = st.get("t")
        if last is not None and t <= last:
            return NONE
        st["t"] = t
        if st.get("a"):
            st["a"] = 0
            return ((CLEAR, t, v),)
        if last is not None and t - last > self.timeout:
            return ((RAISE, last + self.timeout, None), (CLEAR, t, v))
        return NONE

    def check(self, st: dict, now: float) -> tuple:
        last = st.get("t")
        if not st.get("a") and last is not None and now - last > self.timeout:
            st["a"] = 1
            return ((RAISE, last + self.timeout, None),)
        return NONE


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


class Anomaly:
    """Robust z-score against a rolling baseline: z = 0.6745 (v - median) / MAD.

    `seasonal`: "hour_of_week" (default) works on **hourly means**, whatever the reporting rate:
    the readings of each hour are averaged and, when the hour is over (the first reading of a
    later hour arrives), its mean is scored against the means of the same hour of the week in the
    past weeks (168 buckets, the last `window` weeks each, default 8) and then joins that bucket.
    A sensor reporting every second is thus compared with past Mondays 9-10 h, not with its own
    last few seconds; the transition is stamped with the time of the hour's last reading and
    carries the hour's mean (for hourly data: the reading itself, judged when the next one comes).
    "none" keeps one baseline of the last `window` readings (default 48) and scores each reading
    as it arrives, before it joins the baseline. Raises when |z| > `z` (default 3.5,
    Iglewicz-Hoaglin), clears when |z| <= `clear_z` (default z/2); no score until `min_samples`
    (default 4) are in the baseline. When the MAD is 0 (over half the baseline equal) the mean
    absolute deviation scales instead, z = (v - median) / (1.2533 MeanAD), the modified z-score's
    usual fallback; only a baseline of identical values scores any deviation as infinite.
    `utc_offset_s` places hours of the week in local time.
    """

    kind = "anomaly"

    def __init__(self, p: dict):
        self.z = _num(p, "z", 3.5, minimum=0)
        self.clear_z = _num(p, "clear_z", self.z / 2, minimum=0)
        if self.clear_z > self.z:
            raise RuleParamError("params.clear_z must be <= z (hysteresis)")
        self.seasonal = p.get("seasonal", "hour_of_week")
        if self.seasonal not in ("hour_of_week", "none"):
            raise RuleParamError("params.seasonal must be hour_of_week or none")
        self.window = int(_num(p, "window", 8 if self.seasonal == "hour_of_week" else 48, minimum=3))
        self.min_samples = int(_num(p, "min_samples", 4, minimum=3))
        self.direction = p.get("direction", "both")
        if self.direction not in ("rise", "fall", "both"):
            raise RuleParamError("params.direction must be rise, fall or both")
        self.offset = _num(p, "utc_offset_s", 0)

    def bucket(self, t: float) -> str:
        if self.seasonal == "none":
            return "0"
        return str(int((t + self.offset) // 3600) % 168)

    def score(self, hist: list[float], v: float) -> float | None:
        if len(hist) < self.min_samples:
            return None
        med = _median(hist)
        dev = [abs(x - med) for x in hist]
        mad = _median(dev)
        if mad:
            return 0.6745 * (v - med) / mad
        mean_ad = sum(dev) / len(dev)
        if mean_ad:
            return (v - med) / (1.2533 * mean_ad)
        return 0.0 if v == med else float("inf") if v > med else float("-inf")

    def _judge(self, st: dict, hist: list[float], t: float, v: float) -> tuple:
        """Score v against hist, add it to hist, and apply the hysteresis."""
        z = self.score(hist, v)
        hist.append(v)
        if len(hist) > self.window:
            del hist[0]
        if z is None:
            return NONE
        m = z if self.direction == "rise" else -z if self.direction == "fall" else abs(z)
        if not st.get("a"):
            if m > self.z:
                st["a"] = 1
                return ((RAISE, t, v),)
        elif m <= self.clear_z:
            st["a"] = 0
            return ((CLEAR, t, v),)
        return NONE

    def step(self, st: dict, t: float, v: float) -> tuple:
        last = st.get("t")
        if last is not None and t <= last:
            return NONE
        st["t"] = t
        buckets = st.setdefault("b", {})
        if self.seasonal == "none":
            return self._judge(st, buckets.setdefault("0", []), t, v)
        hour = int((t + self.offset) // 3600)
        acc = st.get("h")  # the open hour: [hour, sum, count, time of its last reading]
        out = NONE
        if acc is not None and acc[0] != hour:
            out = self._judge(st, buckets.setdefault(str(acc[0] % 168), []), acc[3], acc[1] / acc[2])
            acc = None
        if acc is None:
            st["h"] = [hour, v, 1, t]
        else:
            acc[1] += v
            acc[2] += 1
            acc[3] = t
        return out


SERIES_KINDS: dict[str, type] = {
    "threshold": Threshold,
    "rate_of_change": RateOfChange,
    "no_data": NoData,
    "anomaly": Anomaly,
}


class Combination:
    """All / any of child conditions (each a series evaluator on its own metric).

    Children keep their own hysteresis; the combination is active while all (or any) children
    are active, and raises / clears on the edges. The subject is the entity the metrics share.
    """

    kind = "combination"

    def __init__(self, p: dict):
        self.mode = p.get("mode", "all")
        if self.mode not in ("all", "any"):
            raise RuleParamError("params.mode must be all or any")
        children = p.get("children")
        if not isinstance(children, list) or len(children) < 2:
            raise RuleParamError("params.children must list at least two conditions")
        self.children = []
        self.metrics: list[str] = []
        for i, child in enumerate(children):
            kind = child.get("kind") if isinstance(child, dict) else None
            if kind not in ("threshold", "rate_of_change", "anomaly"):
                raise RuleParamError(f"params.children[{i}].kind must be threshold, rate_of_change or anomaly")
            if not child.get("metric"):
                raise RuleParamError(f"params.children[{i}].metric is required")
            try:
                self.children.append(SERIES_KINDS[kind](child.get("params") or {}))
            except RuleParamError as exc:
                raise RuleParamError(f"params.children[{i}].{str(exc).removeprefix('params.')}") from None
            self.metrics.append(str(child["metric"]))

    def step_child(self, st: dict, i: int, t: float, v: float) -> tuple:
        states = st.get("c")
        if states is None or len(states) != len(self.children):
            states = st["c"] = [{} for _ in self.children]
        self.children[i].step(states[i], t, v)
        flags = [bool(s.get("a")) for s in states]
        now_active = all(flags) if self.mode == "all" else any(flags)
        if now_active and not st.get("a"):
            st["a"] = 1
            return ((RAISE, t, v),)
        if not now_active and st.get("a"):
            st["a"] = 0
            return ((CLEAR, t, v),)
        return NONE


def build(kind: str, params: dict):
    """The evaluator for a series rule kind; RuleParamError names the bad parameter."""
    if not isinstance(params, dict):
        raise RuleParamError("params must be an object")
    if kind == "combination":
        return Combination(params)
    if kind in SERIES_KINDS:
        return SERIES_KINDS[kind](params)
    raise RuleParamError(f"kind {kind!r} has no series evaluator")


def event_count_params(p: dict) -> dict:
    """Validate an event-count rule: `event_type`, `window_s`, `count`, optional `clear_count`."""
    if not isinstance(p, dict):
        raise RuleParamError("params must be an object")
    if not p.get("event_type"):
        raise RuleParamError("params.event_type is required")
    window = _num(p, "window_s", minimum=1)
    count = int(_num(p, "count", minimum=1))
    clear = int(_num(p, "clear_count", count, minimum=0))
    if clear > count:
        raise RuleParamError("params.clear_count must be <= count (hysteresis)")
    return {"event_type": str(p["event_type"]), "window_s": window, "count": count, "clear_count": clear}


def event_count_replay(times: list[float], *, window_s: float, count: int, clear_count: int, until: float) -> list:
    """Transitions of a sliding event-count window over sorted event times (one area).

    Raises at the event that brings the count within (t - window, t] to `count`; clears at the
    first moment the count falls below `clear_count` (when the oldest events leave the window).
    """
    out: list = []
    active = False
    # Check points: every event time and every expiry time (t + window), in order.
    points = sorted([(t, 1) for t in times] + [(t + window_s, 0) for t in times if t + window_s <= until])
    lo = 0
    n_seen = 0
    for at, is_event in points:
        if is_event:
            n_seen += 1
        while lo < n_seen and times[lo] <= at - window_s:
            lo += 1
        n = n_seen - lo
        if not active and n >= count:
            active = True
            out.append((RAISE, at, n))
        elif active and n < clear_count:
            active = False
            out.append((CLEAR, at, n))
    return out
