"""The daily city briefing (每日城市运行简报): one day against its baseline (the mean of the 28
days before), computed from the event log, the observation rollups and the documents, stored as
data on a Briefing and rendered as a page, a PDF (headless Chromium) and an e-mail in zh-hans and en.

Generic over event families: every event type seen that day is counted against its baseline, so the
wings' events (industry.*, livelihood.*) appear as soon as they are recorded; cases, alerts, sensors,
opinion, hotspots, situations, enterprise risk and service demand get their own sections.
"""

import logging
import zoneinfo
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from datahub.models import Area, Briefing, Document, Situation

log = logging.getLogger(__name__)
BASELINE_DAYS = 28
TOP = 5


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def _pct(value: float, base: float) -> float | None:
    return round(100.0 * (value - base) / base, 1) if base else None


def _metric(value: float, base: float) -> dict:
    return {"value": value, "baseline": round(base, 2), "change_pct": _pct(value, base)}


def _type_counts(start: datetime, end: datetime, base_start: datetime) -> tuple[dict, dict]:
    """({type: count that day}, {type: mean daily count over the baseline})."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT type, count(*) FILTER (WHERE occurred_at >= %s), count(*) FILTER (WHERE occurred_at < %s)
               FROM datahub_event WHERE occurred_at >= %s AND occurred_at < %s GROUP BY type""",
            [start, start, base_start, end],
        )
        rows = cur.fetchall()
    day = {t: n for t, n, _ in rows if n}
    base = {t: b / BASELINE_DAYS for t, _, b in rows}
    return day, base


def _payload_top(types: list[str], key: str, start, end, base_start, limit=TOP) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(
            """SELECT payload->>%s AS k, count(*) FILTER (WHERE occurred_at >= %s), count(*) FILTER (WHERE occurred_at < %s)
               FROM datahub_event WHERE type = ANY(%s) AND occurred_at >= %s AND occurred_at < %s
               GROUP BY k""",
            [key, start, start, types, base_start, end],
        )
        rows = [(k, n, b / BASELINE_DAYS) for k, n, b in cur.fetchall() if n and k]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [{"key": k, **_metric(n, b)} for k, n, b in rows[:limit]]


def _cases(day_counts, base_counts, start, end, base_start) -> dict:
    def m(t):
        return _metric(day_counts.get(t, 0), base_counts.get(t, 0.0))

    with connection.cursor() as cur:
        cur.execute(
            """SELECT avg((payload->>'rating')::float) FILTER (WHERE occurred_at >= %s),
                      avg((payload->>'rating')::float) FILTER (WHERE occurred_at < %s)
               FROM datahub_event WHERE type = 'case.rated' AND occurred_at >= %s AND occurred_at < %s
               AND jsonb_typeof(payload->'rating') = 'number'""",
            [start, start, base_start, end],
        )
        sat, sat_base = cur.fetchone()
    districts = _payload_top(["case.received"], "district", start, end, base_start)
    names = dict(
        Area.objects.filter(id__in=[int(d["key"]) for d in districts if d["key"].isdigit()]).values_list("id", "name")
    )
    names_en = dict(
        Area.objects.filter(id__in=[int(d["key"]) for d in districts if d["key"].isdigit()]).values_list(
            "id", "name_en"
        )
    )
    for d in districts:
        aid = int(d["key"]) if d["key"].isdigit() else None
        d["name"] = names.get(aid, d["key"])
        d["name_en"] = names_en.get(aid) or d["name"]
    return {
        "received": m("case.received"),
        "resolved": m("case.resolve"),
        "closed": m("case.close"),
        "overdue": m("case.overdue"),
        "reopened": m("case.reopen"),
        "satisfaction": {
            "value": round(sat, 2) if sat is not None else None,
            "baseline": round(sat_base, 2) if sat_base is not None else None,
        },
        "top_categories": _payload_top(["case.received"], "category", start, end, base_start),
        "top_districts": districts,
    }


def _alerts(day_counts, base_counts, start, end, base_start) -> dict:
    return {
        "raised": _metric(day_counts.get("alert.raised", 0), base_counts.get("alert.raised", 0.0)),
        "cleared": _metric(day_counts.get("alert.cleared", 0), base_counts.get("alert.cleared", 0.0)),
        "by_severity": _payload_top(["alert.raised"], "severity", start, end, base_start, limit=10),
    }


def _sensor_extremes(start, end, base_start, limit=8) -> list[dict]:
    """Datastreams whose highest hourly mean that day most exceeds their highest over the baseline."""
    with connection.cursor() as cur:
        cur.execute(
            """WITH d AS (
                 SELECT datastream_id,
                        max(sum / nullif(count, 0)) FILTER (WHERE bucket >= %s) AS day_max,
                        max(sum / nullif(count, 0)) FILTER (WHERE bucket < %s) AS base_max
                 FROM datahub_observation_rollup
                 WHERE resolution = 'hour' AND bucket >= %s AND bucket < %s
                 GROUP BY datastream_id)
               SELECT d.datastream_id, s.metric, s.unit, coalesce(nullif(en.name, ''), dev.key), d.day_max, d.base_max
               FROM d JOIN datahub_datastream s ON s.id = d.datastream_id
               JOIN datahub_device dev ON dev.id = s.device_id
               JOIN datahub_entity en ON en.id = dev.entity_id
               WHERE d.day_max IS NOT NULL
               ORDER BY d.day_max / nullif(abs(d.base_max), 0) DESC NULLS LAST, d.datastream_id
               LIMIT %s""",
            [start, start, base_start, end, limit],
        )
        rows = cur.fetchall()
    return [
        {
            "datastream_id": ds,
            "metric": metric,
            "unit": unit,
            "device": name,
            "max": round(mx, 2),
            "baseline_max": round(bmx, 2) if bmx is not None else None,
            "change_pct": _pct(mx, bmx) if bmx else None,
        }
        for ds, metric, unit, name, mx, bmx in rows
    ]


def _opinion(day_counts, base_counts, start, end, base_start) -> dict:
    neg = Document.objects.filter(sentiment="negative")
    day_neg = neg.filter(published_at__gte=start, published_at__lt=end).count()
    base_neg = neg.filter(published_at__gte=base_start, published_at__lt=start).count() / BASELINE_DAYS
    return {
        "negative_documents": _metric(day_neg, base_neg),
        "spikes": _metric(day_counts.get("opinion.negative_spike", 0), base_counts.get("opinion.negative_spike", 0.0)),
        "spike_topics": _payload_top(["opinion.negative_spike"], "topic", start, end, base_start),
    }


def _family_rows(day_counts, base_counts, prefix: str) -> list[dict]:
    rows = [{"type": t, **_metric(n, base_counts.get(t, 0.0))} for t, n in day_counts.items() if t.startswith(prefix)]
    rows.sort(key=lambda r: (-r["value"], r["type"]))
    return rows[:10]


def _families(day_counts, base_counts) -> list[dict]:
    fam: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for t in set(day_counts) | {t for t, b in base_counts.items() if b}:
        f = t.split(".", 1)[0]
        fam[f][0] += day_counts.get(t, 0)
        fam[f][1] += base_counts.get(t, 0.0)
    rows = [{"family": f, **_metric(v, b)} for f, (v, b) in fam.items()]
    rows.sort(key=lambda r: (-r["value"], r["family"]))
    return rows


def _hotspots(start, end) -> dict:
    """Gi* of the day's case intake per district (or a 1 km grid where there are no districts),
    with a small SVG map for the page, the PDF and the e-mail (no tiles, no script)."""
    from .hotspots import HotspotError, hotspots

    has_districts = Area.objects.filter(level="district", geometry__isnull=False).exists()
    try:
        res = hotspots(
            event="case.*",
            until=end,
            window=end - start,
            level="district" if has_districts else "grid",
            cell_m=1000,
            permutations=199,
        )
    except HotspotError as exc:
        return {"error": str(exc), "hot": [], "svg": ""}
    feats = res["features"]
    hot = [
        {
            "name": f["properties"].get("name") or "·".join(map(str, f["properties"].get("cell", []))),
            "count": f["properties"]["count"],
            "z": round(f["properties"]["z"], 2) if f["properties"]["z"] is not None else None,
        }
        for f in feats
        if f["properties"]["class"] == "hot"
    ]
    hot.sort(key=lambda h: -(h["z"] or 0))
    return {"events": res["events"], "cells": res["cell_count"], "hot": hot[:TOP], "svg": _svg(feats)}


def _svg(features: list[dict], width: int = 360, height: int = 240) -> str:
    rings = []
    for f in features:
        g = f["geometry"]
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        for poly in polys:
            rings.append((poly[0], f["properties"]))
    if not rings:
        return ""
    xs = [p[0] for r, _ in rings for p in r]
    ys = [p[1] for r, _ in rings for p in r]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = width / ((x1 - x0) or 1)
    sy = height / ((y1 - y0) or 1)
    s = min(sx, sy)
    top = max(r[1]["count"] for r in rings) or 1
    paths = []
    for ring, props in rings:
        d = " ".join(f"{(x - x0) * s:.1f},{(y1 - y) * s:.1f}" for x, y in ring)
        if props["class"] == "hot":
            fill = "#d7301f"
        elif props["class"] == "cold":
            fill = "#4575b4"
        else:
            alpha = 0.1 + 0.6 * props["count"] / top
            fill = f"rgba(253,141,60,{alpha:.2f})"
        paths.append(f'<polygon points="{d}" fill="{fill}" stroke="#666" stroke-width="0.5"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img">{"".join(paths)}</svg>'
    )


def _situations(start, end) -> list[dict]:
    qs = (
        Situation.objects.filter(window_start__lt=end, window_end__gt=start)
        .exclude(status=Situation.Status.DISMISSED)
        .select_related("area")
        .order_by("-score")[:10]
    )
    return [
        {
            "id": s.id,
            "area": s.area.name if s.area else "",
            "severity": s.severity,
            "score": s.score,
            "summary": s.summary,
            "summary_en": s.summary_en,
            "status": s.status,
        }
        for s in qs
    ]


def compute(day: date, progress=None) -> dict:
    start, end = _day_bounds(day)
    base_start = start - timedelta(days=BASELINE_DAYS)
    step = progress or (lambda _p: None)
    day_counts, base_counts = _type_counts(start, end, base_start)
    step(0.2)
    content = {
        "day": day.isoformat(),
        "baseline_days": BASELINE_DAYS,
        "families": _families(day_counts, base_counts),
        "cases": _cases(day_counts, base_counts, start, end, base_start),
    }
    step(0.4)
    content["alerts"] = _alerts(day_counts, base_counts, start, end, base_start)
    content["sensors"] = _sensor_extremes(start, end, base_start)
    step(0.6)
    content["opinion"] = _opinion(day_counts, base_counts, start, end, base_start)
    content["hotspots"] = _hotspots(start, end)
    step(0.8)
    content["situations"] = _situations(start, end)
    content["enterprise_risk"] = [r for r in _family_rows(day_counts, base_counts, "industry.") if "risk" in r["type"]]
    content["service_demand"] = _family_rows(day_counts, base_counts, "livelihood.")
    content["events_total"] = _metric(sum(day_counts.values()), sum(base_counts.values()))
    return content


def briefing_request(*, day: date) -> Briefing:
    """Queue (re)generation of a day's briefing in Celery (after commit); returns it at once."""
    from datahub.analysis.tasks import briefing_run

    with transaction.atomic():
        b, created = Briefing.objects.get_or_create(day=day)
        if not created and b.status != Briefing.Status.RUNNING:
            Briefing.objects.filter(id=b.id).update(status=Briefing.Status.PENDING, progress=0.0, error="")
            b.refresh_from_db()
        transaction.on_commit(lambda: briefing_run.delay(b.id))
    return b


def briefing_build(*, briefing_id: int) -> Briefing:
    """Compute a briefing. The work is claimed (pending/failed/ready -> running) so two workers
    never build the same one at once; a rerun simply rebuilds it."""
    claimed = (
        Briefing.objects.filter(id=briefing_id)
        .exclude(status=Briefing.Status.RUNNING)
        .update(status=Briefing.Status.RUNNING, progress=0.0, error="")
    )
    b = Briefing.objects.get(id=briefing_id)
    if not claimed:
        return b

    def progress(p: float) -> None:
        Briefing.objects.filter(id=briefing_id).update(progress=p)

    try:
        content = compute(b.day, progress=progress)
    except Exception as exc:
        log.exception("briefing %s failed", briefing_id)
        Briefing.objects.filter(id=briefing_id).update(status=Briefing.Status.FAILED, error=str(exc)[:2000])
        raise
    Briefing.objects.filter(id=briefing_id).update(
        status=Briefing.Status.READY, progress=1.0, content=content, generated_at=timezone.now()
    )
    b.refresh_from_db()
    return b


def briefing_generate(*, day: date) -> Briefing:
    """Build a day's briefing now (the beat job); an existing ready briefing is rebuilt."""
    b, _ = Briefing.objects.get_or_create(day=day)
    return briefing_build(briefing_id=b.id)


def render_html(briefing: Briefing, *, language: str, standalone: bool = True) -> str:
    """The briefing as one self-contained HTML document (inline CSS and SVG) in `language`."""
    with translation.override(language):
        return render_to_string(
            "analysis/briefing_print.html", {"briefing": briefing, "c": briefing.content, "language": language}
        )


def render_pdf(briefing: Briefing, *, language: str) -> bytes:
    """Headless Chromium's print to PDF (CJK from fonts-wqy-microhei)."""
    from playwright.sync_api import sync_playwright

    html = render_html(briefing, language=language)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=getattr(settings, "CHROMIUM_PATH", "/usr/bin/chromium"),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(
                format="A4",
                print_background=True,
                margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()


def leaders_emails() -> list[str]:
    from django.contrib.auth import get_user_model

    from cityos.roles import Role

    return sorted(
        set(
            get_user_model()
            .objects.filter(Q(role=Role.CITY_LEADER), is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def briefing_send(*, briefing_id: int) -> int:
    """E-mail a ready briefing to the city leaders, once (claimed by `emailed_at`); returns the
    number of recipients (0 when already sent or nobody to send to). zh-hans first, then en."""
    recipients = leaders_emails()
    if not recipients:
        return 0
    claimed = Briefing.objects.filter(id=briefing_id, status=Briefing.Status.READY, emailed_at=None).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return 0
    b = Briefing.objects.get(id=briefing_id)
    zh = render_html(b, language="zh-hans")
    en = render_html(b, language="en")
    c = b.content
    text = (
        f"每日城市运行简报 {b.day:%Y-%m-%d}\n"
        f"案件受理 {c['cases']['received']['value']}（基线 {c['cases']['received']['baseline']}），"
        f"告警 {c['alerts']['raised']['value']}，研判事件 {len(c['situations'])}。\n\n"
        f"Daily city briefing {b.day:%Y-%m-%d}\n"
        f"Cases received {c['cases']['received']['value']} (baseline {c['cases']['received']['baseline']}), "
        f"alerts {c['alerts']['raised']['value']}, situations {len(c['situations'])}.\n"
    )
    msg = EmailMultiAlternatives(
        subject=f"每日城市运行简报 / Daily city briefing {b.day:%Y-%m-%d}",
        body=text,
        to=recipients,
    )
    msg.attach_alternative(zh + en, "text/html")
    msg.send()
    return len(recipients)
