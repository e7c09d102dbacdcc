"""Situations (研判): signals from different sources that coincide in one district and window.

Signals are read from the event log, generic over event types (the wings add theirs by recording
events; `SIGNALS` or settings.ANALYSIS_SIGNALS say which types are which kind of signal):

- item signals: each event is evidence (a sensor alert raised, an opinion spike, an enterprise
  risk); its unusualness comes from its payload (alert severity, spike z-score, risk level);
- surge signals: the count of events of one category in the window against its baseline (the same
  window over the previous `baseline_days`), as a Poisson z-score (a case surge).

A district with signals of at least two kinds whose weighted unusualness reaches the threshold is
a situation: evidence links, a severity, a zh and an en summary from templates. Windows that
overlap an open situation of the same district extend it (a re-run never duplicates). Each new
situation is recorded in the event log (`analysis.situation_detected`) and published as the domain
event `analysis.situation_detected` after commit. Officers confirm or dismiss; the verdicts tune
each kind's weight (its Laplace-smoothed precision), which the next detection uses.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from cityos import bus
from datahub import facade
from datahub.models import Area, Event, SignalWeight, Situation

SIGNALS = [
    {"kind": "sensor", "types": ["alert.raised", "iot.anomaly"], "mode": "item"},
    {"kind": "opinion", "types": ["opinion.negative_spike"], "mode": "item"},
    {"kind": "enterprise", "types": ["industry.risk_raised", "industry.risk"], "mode": "item"},
    {"kind": "cases", "types": ["case.received"], "mode": "surge", "group": "category"},
]
KINDS_ZH = {"sensor": "传感器告警", "opinion": "负面舆情", "enterprise": "企业风险", "cases": "案件激增"}
KINDS_EN = {
    "sensor": "sensor alerts",
    "opinion": "negative opinion",
    "enterprise": "enterprise risk",
    "cases": "case surge",
}
SEVERITY_SCORE = {"critical": 3.0, "major": 2.0, "high": 2.0, "warning": 1.5, "minor": 1.0, "info": 0.5}
LEVELS = [(8.0, "critical"), (5.0, "high"), (3.0, "medium"), (0.0, "low")]
# The severities and risk levels the signals carry, as the summaries print them.
SEVERITY_ZH = {
    "critical": "紧急",
    "major": "重要",
    "high": "高风险",
    "warning": "预警",
    "medium": "中风险",
    "minor": "一般",
    "low": "低风险",
    "info": "提示",
}
SEVERITY_EN = {
    "critical": "critical",
    "major": "major",
    "high": "high risk",
    "warning": "warning",
    "medium": "medium risk",
    "minor": "minor",
    "low": "low risk",
    "info": "info",
}
LEVEL_ZH = {"critical": "特别严重", "high": "严重", "medium": "较重", "low": "一般"}
LEVEL_EN = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}
SURGE_Z = 3.0
SURGE_MIN = 4
# Two weak coincidences (a minor alert and a small spike, ~2.2) are everyday noise; a situation
# needs one clearly unusual signal among them (on the generated month: precision 0.45 at 2.0,
# 0.9 at 3.0, recall 1.0 at both).
THRESHOLD = 3.0


def signal_config() -> list[dict]:
    return getattr(settings, "ANALYSIS_SIGNALS", None) or SIGNALS


def weights() -> dict[str, float]:
    return dict(SignalWeight.objects.values_list("kind", "weight"))


@dataclass
class Signal:
    kind: str
    score: float  # unusualness of this piece of evidence, 0.5 .. 3
    event_id: int | None
    type: str
    at: datetime
    label: str
    label_en: str
    object_ref: str = ""
    extra: dict = field(default_factory=dict)


def _u_from_z(z: float) -> float:
    """Unusualness 1..3 from a z-score: 1 at the detection floor (z = 3), 3 at z >= 9."""
    return max(1.0, min(3.0, 1.0 + (z - SURGE_Z) / 3.0))


def _district_of(area_ids: set[int], level: str) -> dict[int, int]:
    """Each area's ancestor (or itself) at `level`."""
    if not area_ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH RECURSIVE up(start, id, parent_id, level, depth) AS (
                SELECT a.id, a.id, a.parent_id, a.level, 0 FROM datahub_area a WHERE a.id = ANY(%s)
                UNION ALL
                SELECT up.start, p.id, p.parent_id, p.level, up.depth + 1
                FROM up JOIN datahub_area p ON p.id = up.parent_id
                WHERE up.level <> %s AND up.depth < 16
            )
            SELECT start, id FROM up WHERE level = %s
            """,
            [list(area_ids), level, level],
        )
        return dict(cur.fetchall())


def _item_score(kind: str, ev: Event) -> tuple[float, str, str]:
    p = ev.payload or {}
    if kind == "sensor":
        sev = str(p.get("severity", "minor"))
        return (
            SEVERITY_SCORE.get(sev, 1.0),
            f"{SEVERITY_ZH.get(sev, '')}告警",
            f"{SEVERITY_EN.get(sev, '')} alert".strip(),
        )
    if kind == "opinion":
        mean, std, count = p.get("baseline_mean", 0), p.get("baseline_std", 1) or 1, p.get("count", 0)
        z = (count - mean) / std if std else 0
        topic = p.get("topic", "")
        return (
            _u_from_z(z),
            f"负面舆情{count}条（基线{mean}）{topic}",
            f"{count} negative posts (baseline {mean}) {topic}".strip(),
        )
    level = str(p.get("level") or p.get("severity") or "")
    score = SEVERITY_SCORE.get(level, 2.0)
    # Words, not codes: the subject's name (or what kind of signal it is) and the level's label.
    name = p.get("name") or p.get("title") or p.get("enterprise_name")
    name_zh, name_en = (name, name) if name else (KINDS_ZH.get(kind, "风险信号"), KINDS_EN.get(kind, "risk signal"))
    level_zh, level_en = SEVERITY_ZH.get(level, "风险"), SEVERITY_EN.get(level, "risk")
    return score, f"{name_zh}（{level_zh}）", f"{name_en} ({level_en})"


def collect_signals(
    *, since: datetime, until: datetime, level: str = "district", baseline_days: int = 28
) -> dict[int, list[Signal]]:
    """{district id: [Signal]} for the window [since, until)."""
    out: dict[int, list[Signal]] = defaultdict(list)
    window = until - since
    for spec in signal_config():
        kind, types = spec["kind"], spec["types"]
        if spec.get("mode", "item") == "item":
            evs = list(
                Event.objects.filter(type__in=types, occurred_at__gte=since, occurred_at__lt=until, area__isnull=False)
                .order_by("occurred_at", "id")
                .only("id", "type", "occurred_at", "area_id", "payload", "object_ref")[:5000]
            )
            up = _district_of({e.area_id for e in evs}, level)
            for e in evs:
                d = up.get(e.area_id)
                if d is None:
                    continue
                score, label, label_en = _item_score(kind, e)
                out[d].append(Signal(kind, score, e.id, e.type, e.occurred_at, label, label_en, e.object_ref))
            continue
        # Surge: counts per district and group in the window against the baseline windows.
        group = spec.get("group", "category")
        base_since = since - timedelta(days=baseline_days)
        qs = Event.objects.filter(type__in=types, area__isnull=False)
        cur_rows = (
            qs.filter(occurred_at__gte=since, occurred_at__lt=until)
            .values("area_id", f"payload__{group}")
            .annotate(n=Count("id"))
            .order_by()
        )
        base_rows = (
            qs.filter(occurred_at__gte=base_since, occurred_at__lt=since)
            .values("area_id", f"payload__{group}")
            .annotate(n=Count("id"))
            .order_by()
        )
        cur_rows, base_rows = list(cur_rows), list(base_rows)
        up = _district_of({r["area_id"] for r in cur_rows} | {r["area_id"] for r in base_rows}, level)
        current: dict[tuple, int] = defaultdict(int)
        base: dict[tuple, int] = defaultdict(int)
        for rows, acc in ((cur_rows, current), (base_rows, base)):
            for r in rows:
                d = up.get(r["area_id"])
                if d is not None:
                    acc[(d, r[f"payload__{group}"])] += r["n"]
        n_windows = max(1.0, (since - base_since) / window)
        for (d, g), n in current.items():
            lam = max(base.get((d, g), 0) / n_windows, 0.5)
            z = (n - lam) / math.sqrt(lam)
            if n < SURGE_MIN or z < SURGE_Z:
                continue
            g_zh, g_en = _group_names(group, g)
            out[d].append(
                Signal(
                    kind,
                    _u_from_z(z),
                    None,
                    types[0],
                    until,
                    f"{g_zh}类{n}件（基线{lam:.1f}，z={z:.1f}）",
                    f"{n} of {g_en} (baseline {lam:.1f}, z={z:.1f})",
                    extra={"group": g, "count": n, "baseline": round(lam, 2), "z": round(z, 2)},
                )
            )
    return out


def _group_names(group: str, code) -> tuple[str, str]:
    """A surge group's name in Chinese and English (a case category's name, not its code)."""
    if not code:
        return "未分类", "uncategorised"
    from django.utils import translation

    from cityos.labels import label_of

    with translation.override("zh-hans"):
        zh = label_of(group, code)
    with translation.override("en"):
        en = label_of(group, code)
    return zh, en


WEAK = 1.5  # a kind whose unusualness is below this is weak evidence (a minor alert, a small spike)


def kind_strengths(pairs) -> dict[str, float]:
    """{kind: unusualness} from (kind, score) pairs: the strongest evidence plus a quarter of the
    rest, capped at 3."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, score in pairs:
        by_kind[kind].append(score)
    out = {}
    for kind, scores in by_kind.items():
        scores.sort(reverse=True)
        out[kind] = min(3.0, scores[0] + 0.25 * sum(scores[1:]))
    return out


def weight_key(kind: str, u: float) -> str:
    """Weights are learnt per kind and strength band ("sensor:weak", "sensor:strong"): officers
    dismiss coincidences of weak signals and confirm strong ones, whatever their source."""
    return f"{kind}:{'weak' if u < WEAK else 'strong'}"


def score_of(signals: list[Signal], w: dict[str, float]) -> tuple[float, list[str]]:
    """Σ over kinds of the learnt weight of (kind, strength) × the kind's unusualness."""
    strengths = kind_strengths((s.kind, s.score) for s in signals)
    total = sum(w.get(weight_key(k, u), 1.0) * u for k, u in strengths.items())
    return round(total, 3), sorted(strengths)


def severity_of(score: float) -> str:
    return next(level for floor, level in LEVELS if score >= floor)


def _summaries(area: Area | None, since: datetime, until: datetime, signals: list[Signal], score: float, severity: str):
    tz = timezone.get_current_timezone()
    span_zh = f"{since.astimezone(tz):%m月%d日%H时}至{until.astimezone(tz):%m月%d日%H时}"
    span_en = f"{since.astimezone(tz):%d %b %H:00} to {until.astimezone(tz):%d %b %H:00}"
    by_kind: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        by_kind[s.kind].append(s)
    parts_zh, parts_en = [], []
    for kind in sorted(by_kind):
        items = by_kind[kind]
        parts_zh.append(f"{KINDS_ZH.get(kind, kind)}{len(items)}项（{items[0].label}）")
        parts_en.append(f"{KINDS_EN.get(kind, kind)}: {len(items)} ({items[0].label_en})")
    name = area.name if area else "未知区域"
    name_en = (area.name_en or area.name) if area else "unknown area"
    zh = (
        f"{name}在{span_zh}同时出现{len(by_kind)}类异常信号：{'；'.join(parts_zh)}。"
        f"综合异常度{score:.1f}，研判等级：{LEVEL_ZH[severity]}。"
    )
    en = (
        f"{name_en}, {span_en}: {len(by_kind)} kinds of unusual signals at once — {'; '.join(parts_en)}. "
        f"Combined unusualness {score:.1f}; severity: {LEVEL_EN[severity]}."
    )
    return zh, en


def _evidence(signals: list[Signal]) -> list[dict]:
    out = []
    for s in signals:
        url = f"/api/v1/datahub/events/{s.event_id}/" if s.event_id else ""
        if s.object_ref.startswith("datahub:alert:"):
            url = f"/monitoring/alerts/{s.object_ref.rsplit(':', 1)[1]}/"
        out.append(
            {
                "kind": s.kind,
                "event_id": s.event_id,
                "type": s.type,
                "at": s.at.isoformat(),
                "score": round(s.score, 3),
                "label": s.label,
                "label_en": s.label_en,
                "object_ref": s.object_ref,
                "url": url,
                **({"detail": s.extra} if s.extra else {}),
            }
        )
    return out


def situations_detect(
    *,
    until: datetime | None = None,
    window: timedelta = timedelta(hours=24),
    level: str = "district",
    threshold: float | None = None,
    baseline_days: int = 28,
) -> list[Situation]:
    """Detect situations in [until - window, until); returns the new and the extended ones."""
    until = until or timezone.now()
    since = until - window
    threshold = THRESHOLD if threshold is None else threshold
    w = weights()
    signals = collect_signals(since=since, until=until, level=level, baseline_days=baseline_days)
    areas = Area.objects.in_bulk(list(signals))
    touched = []
    for area_id, sigs in sorted(signals.items()):
        score, kinds = score_of(sigs, w)
        if len(kinds) < 2 or score < threshold:
            continue
        touched.append(_upsert(areas.get(area_id), area_id, since, until, sigs, score, kinds))
    return touched


def _upsert(area, area_id, since, until, sigs, score, kinds) -> Situation:
    severity = severity_of(score)
    with transaction.atomic():
        existing = (
            Situation.objects.select_for_update()
            .filter(area_id=area_id, window_end__gte=since, window_start__lt=until)
            .order_by("-window_end")
            .first()
        )
        if existing is not None:
            # Extend: merge evidence (by event id / label), keep the highest score.
            seen = {(e.get("event_id"), e.get("label")) for e in existing.evidence}
            evidence = existing.evidence + [e for e in _evidence(sigs) if (e["event_id"], e["label"]) not in seen]
            existing.evidence = evidence
            existing.window_end = max(existing.window_end, until)
            existing.kinds = sorted(set(existing.kinds) | set(kinds))
            if score > existing.score:
                existing.score, existing.severity = score, severity
            zh, en = _summaries(
                area, existing.window_start, existing.window_end, sigs, existing.score, existing.severity
            )
            existing.summary, existing.summary_en = zh, en
            existing.save()
            return existing
        zh, en = _summaries(area, since, until, sigs, score, severity)
        situation = Situation.objects.create(
            key=f"{area_id}:{since.isoformat()}",
            area_id=area_id,
            window_start=since,
            window_end=until,
            kinds=kinds,
            evidence=_evidence(sigs),
            score=score,
            severity=severity,
            summary=zh,
            summary_en=en,
        )
        payload = {
            "situation_id": situation.id,
            "area_id": area_id,
            "severity": severity,
            "score": score,
            "kinds": kinds,
            "summary": zh,
            "summary_en": en,
            "window_start": since.isoformat(),
            "window_end": until.isoformat(),
            "lon": area.centroid.x if area and area.centroid else None,
            "lat": area.centroid.y if area and area.centroid else None,
        }
        facade.event_record(
            type="analysis.situation_detected",
            occurred_at=until,
            area_id=area_id,
            object_ref=f"datahub:situation:{situation.id}",
            payload={k: v for k, v in payload.items() if k not in ("summary", "summary_en")},
        )
        bus.publish("analysis.situation_detected", payload)
        live = {"title": zh, "summary": zh, "summary_en": en, "severity": severity, "situation_id": situation.id}
        transaction.on_commit(lambda: _push_live(live))
        return situation


def weight_from_verdicts(confirmed: int, dismissed: int) -> float:
    """A kind's weight: twice its Laplace-smoothed precision (0.5 with no verdicts), capped at 1.
    Kinds officers keep dismissing lose weight; confirmations restore it but never push a kind above
    its default, so tuning only removes noise and never lowers the bar for other weak coincidences."""
    return round(min(1.0, 2.0 * (confirmed + 1) / (confirmed + dismissed + 2)), 4)


def _push_live(data: dict) -> None:
    """The cockpit's and every open page's live feed (the broadcast group of the WebSocket)."""
    from cityos import realtime

    try:
        realtime.publish_broadcast("analysis.situation_detected", data)
    except Exception:  # noqa: BLE001 - a push that fails must not fail detection
        import logging

        logging.getLogger(__name__).warning("live push of situation %s failed", data.get("situation_id"), exc_info=True)


class VerdictError(ValueError):
    pass


def situation_judge(*, situation_id: int, verdict: str, user=None, note: str = "") -> Situation:
    """Confirm or dismiss a situation (once; a second verdict is refused) and retune the weights of
    its signal kinds (`weight_from_verdicts`)."""
    if verdict not in (Situation.Status.CONFIRMED, Situation.Status.DISMISSED):
        raise VerdictError("verdict must be confirmed or dismissed")
    with transaction.atomic():
        s = Situation.objects.select_for_update().filter(id=situation_id).first()
        if s is None:
            raise VerdictError("no such situation")
        if s.status != Situation.Status.OPEN:
            raise VerdictError("this situation has already been judged")
        s.status = verdict
        s.verdict_by = user if user is not None and user.is_authenticated else None
        s.verdict_at = timezone.now()
        s.verdict_note = note[:2000]
        s.save(update_fields=["status", "verdict_by", "verdict_at", "verdict_note"])
        strengths = kind_strengths((e["kind"], e["score"]) for e in s.evidence)
        for kind, u in sorted(strengths.items()):
            sw, _ = SignalWeight.objects.select_for_update().get_or_create(kind=weight_key(kind, u))
            if verdict == Situation.Status.CONFIRMED:
                sw.confirmed += 1
            else:
                sw.dismissed += 1
            sw.weight = weight_from_verdicts(sw.confirmed, sw.dismissed)
            sw.save()
        facade.event_record(
            type=f"analysis.situation_{verdict}",
            area_id=s.area_id,
            actor_id=s.verdict_by.id if s.verdict_by else None,
            object_ref=f"datahub:situation:{s.id}",
            payload={"situation_id": s.id, "kinds": s.kinds, "severity": s.severity},
        )
        bus.publish(
            "analysis.situation_judged",
            {"situation_id": s.id, "verdict": verdict, "area_id": s.area_id, "kinds": s.kinds},
        )
    return s
