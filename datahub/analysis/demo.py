"""Generated data for analysis: a month of city signals with injected situations (the situation
detector's evaluation, the demo and the benchmark use the same generator)."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from datahub.models import Area, Event

CATEGORIES = ["noise", "road", "sanitation", "water", "illegal_parking"]


@dataclass(frozen=True)
class Injected:
    area_id: int
    at: datetime
    kinds: tuple[str, ...]


def make_districts(n: int = 6, *, prefix: str = "EVAL") -> list[Area]:
    """A city with `n` square districts side by side (0.1° each) with centroids."""
    city, _ = Area.objects.get_or_create(
        code=f"{prefix}-CITY", defaults={"name": "评估市", "name_en": "Eval City", "level": "city"}
    )
    out = []
    for i in range(n):
        x0, y0 = 120.0 + 0.1 * (i % 3), 30.0 + 0.1 * (i // 3)
        poly = Polygon(((x0, y0), (x0 + 0.1, y0), (x0 + 0.1, y0 + 0.1), (x0, y0 + 0.1), (x0, y0)), srid=4326)
        area, _ = Area.objects.get_or_create(
            code=f"{prefix}-D{i + 1}",
            defaults={
                "name": f"第{i + 1}区",
                "name_en": f"District {i + 1}",
                "level": "district",
                "parent": city,
                "geometry": MultiPolygon(poly, srid=4326),
                "centroid": poly.centroid,
            },
        )
        out.append(area)
    return out


def generate_month(
    *,
    districts: list[Area],
    start: datetime,
    days: int = 30,
    warmup_days: int = 28,
    injected: int = 10,
    seed: int = 1,
    case_rate_per_hour: float = 0.6,
    alert_rate_per_day: float = 0.7,
    spike_rate_per_day: float = 0.08,
    risk_rate_per_day: float = 0.05,
) -> list[Injected]:
    """Background signals over [start - warmup, start + days) and `injected` situations inside
    [start + 1 day, start + days - 1 day) (at least 3 days apart within a district). Returns the truth."""
    rng = np.random.default_rng(seed)
    rows: list[Event] = []
    t0 = start - timedelta(days=warmup_days)
    hours = (days + warmup_days) * 24

    def point(area):
        c = area.centroid
        return Point(c.x + rng.uniform(-0.04, 0.04), c.y + rng.uniform(-0.04, 0.04), srid=4326)

    for area in districts:
        n_cases = rng.poisson(case_rate_per_hour, hours)
        for h in np.flatnonzero(n_cases):
            for _ in range(int(n_cases[h])):
                at = t0 + timedelta(hours=int(h), minutes=int(rng.integers(0, 60)))
                cat = CATEGORIES[int(rng.choice(len(CATEGORIES), p=[0.3, 0.25, 0.2, 0.15, 0.1]))]
                rows.append(
                    Event(
                        type="case.received", occurred_at=at, area=area, location=point(area), payload={"category": cat}
                    )
                )
        for kind_type, rate in (
            ("alert.raised", alert_rate_per_day),
            ("opinion.negative_spike", spike_rate_per_day),
            ("industry.risk_raised", risk_rate_per_day),
        ):
            n = rng.poisson(rate * (days + warmup_days))
            for _ in range(int(n)):
                at = t0 + timedelta(minutes=int(rng.integers(0, hours * 60)))
                rows.append(
                    Event(
                        type=kind_type,
                        occurred_at=at,
                        area=area,
                        location=point(area),
                        payload=_background_payload(kind_type, rng),
                    )
                )
    truth: list[Injected] = []
    used: dict[int, list[datetime]] = {}
    kinds_all = ["cases", "sensor", "opinion", "enterprise"]
    while len(truth) < injected:
        area = districts[int(rng.integers(0, len(districts)))]
        at = start + timedelta(hours=int(rng.integers(24, (days - 1) * 24)))
        if any(abs((at - t).total_seconds()) < 3 * 86400 for t in used.get(area.id, [])):
            continue
        used.setdefault(area.id, []).append(at)
        k = int(rng.integers(2, 4))
        kinds = tuple(sorted(rng.choice(kinds_all, size=k, replace=False).tolist()))
        if "cases" not in kinds and rng.random() < 0.5:
            kinds = tuple(sorted({*kinds[:-1], "cases"}))
        truth.append(Injected(area.id, at, kinds))
        for kind in kinds:
            if kind == "cases":
                cat = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
                for _ in range(14):
                    when = at + timedelta(minutes=int(rng.integers(0, 360)))
                    rows.append(
                        Event(
                            type="case.received",
                            occurred_at=when,
                            area=area,
                            location=point(area),
                            payload={"category": cat},
                        )
                    )
            elif kind == "sensor":
                for _ in range(2):
                    when = at + timedelta(minutes=int(rng.integers(0, 180)))
                    rows.append(
                        Event(
                            type="alert.raised",
                            occurred_at=when,
                            area=area,
                            location=point(area),
                            payload={"severity": "major", "value": 300.0},
                        )
                    )
            elif kind == "opinion":
                rows.append(
                    Event(
                        type="opinion.negative_spike",
                        occurred_at=at + timedelta(hours=2),
                        area=area,
                        payload={"topic": "环境", "count": 24, "baseline_mean": 3.0, "baseline_std": 2.0},
                    )
                )
            else:
                rows.append(
                    Event(
                        type="industry.risk_raised",
                        occurred_at=at + timedelta(hours=1),
                        area=area,
                        payload={"level": "high", "name": "某化工企业"},
                    )
                )
    Event.objects.bulk_create(rows, batch_size=5000)
    return truth


def _background_payload(kind_type: str, rng) -> dict:
    if kind_type == "alert.raised":
        return {"severity": "minor", "value": 80.0}
    if kind_type == "opinion.negative_spike":
        return {"topic": "交通", "count": 9, "baseline_mean": 3.0, "baseline_std": 1.7}
    return {"level": "minor", "name": "某企业"}


def city_start(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=ZoneInfo(settings.TIME_ZONE))


def evaluate(situations, truth: list[Injected], *, slack: timedelta = timedelta(hours=12)) -> dict:
    """Precision and recall of detected situations against the injected ones (same district, the
    situation's window reaching the injection time within `slack`)."""

    def hit(s, t):
        return s.area_id == t.area_id and s.window_start - slack <= t.at <= s.window_end + slack

    situations = list(situations)
    tp = sum(1 for s in situations if any(hit(s, t) for t in truth))
    found = sum(1 for t in truth if any(hit(s, t) for s in situations))
    return {
        "detected": len(situations),
        "true_positives": tp,
        "precision": tp / len(situations) if situations else 0.0,
        "recall": found / len(truth) if truth else 0.0,
    }


def is_true(situation, truth: list[Injected], slack: timedelta = timedelta(hours=12)) -> bool:
    return any(
        situation.area_id == t.area_id and situation.window_start - slack <= t.at <= situation.window_end + slack
        for t in truth
    )


# --- the demo city's analysis step -----------------------------------------------------------------
#
# The demo's apps record what they do *now*; analysis needs a past. This step gives the demo city
# one, through the datahub's bulk paths, deterministically from the demo seed:
#   - the 12345 hotline's last HISTORY_DAYS days of work orders, migrated from the old hotline
#     system (a Source and a Run; case.received/dispatch/close/overdue/reopen/rated events, COPY):
#     weekly rhythm, a slow rise, a persistent parking hotspot, a construction-noise hotspot that
#     emerged 12 days ago, rainy days with flooding reports, departments that differ in speed;
#   - the last SIGNAL_DAYS days of other signals per district (sensor alerts, negative-opinion
#     spikes, enterprise risks) with a few injected cross-source incidents, one of them yesterday;
#   - the last SENSOR_DAYS days of the demo's environmental sensors' hourly readings (the simulator's own pure
#     function), stored by the ingest service as an import (rollups merged, no alerts);
#   - situations detected day by day over the last month by the real detector, the older ones
#     judged (confirmed when injected, dismissed otherwise: the weights learn), and the briefings
#     of the last BRIEFING_DAYS days built by the real service.
# Idempotent: each part is skipped when its data is there (object_ref prefixes, sources' runs).

HISTORY_DAYS = 91  # 13 weeks: a forecast backtest of 6 two-week folds on 7 weeks of training
SIGNAL_DAYS = 58  # 30 days of situations on a 28-day baseline
SENSOR_DAYS = 29  # yesterday and the briefing's 28-day baseline
SENSOR_KINDS = ("air_quality", "water_level", "noise")  # the environment's sensors
BRIEFING_DAYS = 2
DETECT_DAYS = 30
LEGACY = "hotline-legacy:"
SIGNAL_REF = "demo:signal:"
# The hotline's categories (the governance demo's codes), their share of the intake, the
# department section handling them (by code) and its usual handling time in hours.
CASE_MIX = [
    ("garbage", 14, "urban-management-1", 20),
    ("illegal-ads", 4, "urban-management-1", 30),
    ("street-vending", 7, "urban-management-1", 16),
    ("noise", 11, "ecology-environment-1", 26),
    ("air", 3, "ecology-environment-1", 40),
    ("water-pollution", 2, "ecology-environment-2", 50),
    ("streetlight", 6, "urban-management-2", 30),
    ("road-damage", 7, "urban-management-2", 60),
    ("manhole", 2, "urban-management-2", 8),
    ("parking", 12, "public-security-2", 6),
    ("bus", 4, "transport-2", 48),
    ("water-outage", 4, "water-affairs-1", 10),
    ("flooding", 3, "water-affairs-2", 12),
    ("property", 10, "housing-1", 90),
    ("food-safety", 5, "market-regulation-1", 36),
    ("consumer", 6, "market-regulation-2", 70),
]
SLA_HOURS = 72
WEEKDAY = [1.15, 1.1, 1.05, 1.0, 1.0, 0.8, 0.75]  # Monday first
HOURS = [
    0.2,
    0.1,
    0.1,
    0.1,
    0.1,
    0.2,
    0.4,
    0.9,
    1.6,
    2.0,
    2.0,
    1.7,
    1.2,
    1.4,
    1.8,
    1.8,
    1.6,
    1.3,
    1.1,
    1.2,
    1.2,
    1.0,
    0.7,
    0.4,
]


def _tsv(value) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def _copy_events(rows: list[tuple]) -> int:
    """COPY (type, occurred_at, area_id, lon, lat, object_ref, payload, source_id, department_id,
    subject_id) rows into the event log: ~20x faster than bulk_create here (geometry column)."""
    import io
    import json

    from django.db import connection
    from django.utils import timezone

    now = timezone.now().isoformat()
    buf = io.StringIO()
    for t, at, area_id, lon, lat, ref, payload, source_id, dept_id, subject_id in rows:
        loc = f"SRID=4326;POINT({lon:.6f} {lat:.6f})" if lon is not None else None
        buf.write(
            "\t".join(
                _tsv(v)
                for v in (
                    t,
                    at.isoformat(),
                    now,
                    area_id,
                    loc,
                    ref,
                    json.dumps(payload, ensure_ascii=False),
                    source_id,
                    dept_id,
                    subject_id,
                )
            )
            + "\n"
        )
    buf.seek(0)
    with connection.cursor() as cur:
        cur.cursor.copy_expert(
            "COPY datahub_event (type, occurred_at, recorded_at, area_id, location, object_ref, payload,"
            " source_id, department_id, subject_id) FROM STDIN",
            buf,
        )
    return len(rows)


def _source(code: str, name: str, kind: str, dept_code: str) -> int:
    from datahub.models import Department, Source

    src, _ = Source.objects.get_or_create(
        code=code,
        defaults={"name": name, "kind": kind, "owner_department": Department.objects.filter(code=dept_code).first()},
    )
    return src.id


def _record_run(source_id: int, stored: int) -> None:
    from datahub.core.services import runs

    run_id = runs.run_start(source_id=source_id)
    runs.run_finish(run_id=run_id, status="succeeded", counts={"read": stored, "stored": stored, "rejected": 0})


@dataclass
class _City:
    districts: list  # Area
    grids: dict  # district id -> [(grid id, (x0, y0, x1, y1))]
    depts: dict  # code -> id


def _city() -> "_City | None":
    districts = list(Area.objects.filter(level="district", code__startswith="9901").order_by("code"))
    if not districts:
        return None
    grids: dict[int, list] = {d.id: [] for d in districts}
    for g in Area.objects.filter(level="grid", code__startswith="9901").order_by("code"):
        d = next((d for d in districts if g.code.startswith(d.code)), None)
        if d is not None and g.geometry is not None:
            grids[d.id].append((g.id, g.geometry.extent))
    for d in districts:  # a district without grids: the district itself
        if not grids[d.id]:
            grids[d.id].append((d.id, d.geometry.extent))
    from datahub.models import Department

    return _City(districts, grids, dict(Department.objects.values_list("code", "id")))


def _place(rng, city: _City, district, near: tuple[float, float] | None = None, spread: float = 0.004):
    """(grid id, lon, lat): uniform in one of the district's grids, or around `near`."""
    if near is not None:
        lon, lat = rng.gauss(near[0], spread), rng.gauss(near[1], spread)
        for gid, (x0, y0, x1, y1) in city.grids[district.id]:
            if x0 <= lon <= x1 and y0 <= lat <= y1:
                return gid, lon, lat
    gid, (x0, y0, x1, y1) = rng.choice(city.grids[district.id])
    return gid, rng.uniform(x0, x1), rng.uniform(y0, y1)


def _case_events(rng, city, *, n: int, at: datetime, district, category: str, hours: float, source_id: int, point):
    """The lifecycle events of one migrated work order (as the hotline system logged them)."""
    from django.utils import timezone

    gid, lon, lat = point
    dept = city.depts.get(dict((c, d) for c, _w, d, _h in CASE_MIX)[category])
    ref = f"{LEGACY}{n}"
    base = {"category": category, "district": district.id, "grid": gid, "department": dept, "channel": "hotline"}
    now = timezone.now()
    out = [("case.received", at, gid, lon, lat, ref, {**base, "status": "received"}, source_id, dept, None)]
    handling = hours * rng.lognormvariate(0, 0.6)
    if handling > SLA_HOURS and at + timedelta(hours=SLA_HOURS) < now:
        out.append(("case.overdue", at + timedelta(hours=SLA_HOURS), gid, lon, lat, ref, base, source_id, dept, None))
    closed = at + timedelta(hours=handling)
    if closed < now and rng.random() < 0.97:
        out.append(("case.close", closed, gid, lon, lat, ref, {**base, "status": "closed"}, source_id, dept, None))
        if rng.random() < 0.03:
            out.append(
                (
                    "case.reopen",
                    closed + timedelta(hours=rng.uniform(2, 48)),
                    gid,
                    lon,
                    lat,
                    ref,
                    base,
                    source_id,
                    dept,
                    None,
                )
            )
        if rng.random() < 0.35:
            # Slower sections are rated lower: 5 minus ~1 per 60 handling hours, clipped to 1..5.
            rating = max(1, min(5, round(5.2 - handling / 60 + rng.gauss(0, 0.8))))
            rated = closed + timedelta(hours=rng.uniform(1, 30))
            if rated < now:
                out.append(("case.rated", rated, gid, lon, lat, ref, {**base, "rating": rating}, source_id, dept, None))
    return out


def build_hotline_history(ctx, city: _City, end: datetime, incidents: list[dict]) -> int:
    """HISTORY_DAYS of migrated 12345 work orders up to `end` (yesterday's end, city time)."""
    from datahub.models import Event

    if Event.objects.filter(object_ref__startswith=LEGACY).exists():
        return 0
    rng = random.Random(ctx.seed + 16)
    source_id = _source("binjiang-12345-legacy", "12345热线历史工单（旧系统迁移）", "government", "hotline-12345")
    start = end - timedelta(days=HISTORY_DAYS)
    cats, weights = [c for c, *_ in CASE_MIX], [w for _c, w, *_ in CASE_MIX]
    hours = {c: h for c, _w, _d, h in CASE_MIX}
    by_code = {d.code: d for d in city.districts}
    d_weights = [1.3, 1.2, 1.0, 0.8, 0.7, 0.9][: len(city.districts)] + [1.0] * max(0, len(city.districts) - 6)
    # A market street where parking complaints concentrate all along; a construction site whose
    # night work started 12 days before the end (an emerging noise hotspot).
    jn, gx = by_code.get("990101"), by_code.get("990103")
    market = (119.93, 30.07)
    site = (120.11, 30.07)
    rainy = {start.date() + timedelta(days=d) for d in (20, 21, 55, 83, 84)}
    rows: list[tuple] = []
    n = 0
    for day in range(HISTORY_DAYS):
        d0 = start + timedelta(days=day)
        lam = 110 * WEEKDAY[d0.weekday()] * (0.92 + 0.16 * day / HISTORY_DAYS)
        count = _poisson(rng, lam)
        for _ in range(count):
            at = d0 + timedelta(hours=rng.choices(range(24), HOURS)[0], minutes=rng.uniform(0, 60))
            district = rng.choices(city.districts, d_weights)[0]
            cat = rng.choices(cats, weights)[0]
            near = None
            if cat == "parking" and district is jn and rng.random() < 0.6:
                near = market
            rows += _case_events(
                rng,
                city,
                n=n,
                at=at,
                district=district,
                category=cat,
                hours=hours[cat],
                source_id=source_id,
                point=_place(rng, city, district, near),
            )
            n += 1
        extra = []
        if d0.date() in rainy:  # a downpour: flooding and water-outage reports across the city
            extra += [("flooding", rng.choice(city.districts), None)] * _poisson(rng, 25)
        if gx is not None and day >= HISTORY_DAYS - 12:
            extra += [("noise", gx, site)] * _poisson(rng, 6)
        for inc in incidents:  # the case surges of the injected incidents
            if inc.get("surge") and d0 <= inc["at"] < d0 + timedelta(days=1):
                extra += [(inc["surge"], inc["district"], None)] * 16
        for cat, district, near in extra:
            at = d0 + timedelta(hours=rng.uniform(7, 22))
            for inc in incidents:
                if inc.get("surge") == cat and inc["district"] is district and d0 <= inc["at"] < d0 + timedelta(days=1):
                    at = inc["at"] + timedelta(minutes=rng.uniform(0, 300))
            rows += _case_events(
                rng,
                city,
                n=n,
                at=at,
                district=district,
                category=cat,
                hours=hours[cat],
                source_id=source_id,
                point=_place(rng, city, district, near, spread=0.003),
            )
            n += 1
    _copy_events(rows)
    _record_run(source_id, n)
    return len(rows)


def _poisson(rng, lam: float) -> int:
    """Knuth's method in log space (lam up to a few hundred)."""
    import math

    if lam > 50:  # normal approximation: close enough for daily counts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


INCIDENTS = [
    # (days before the end, hour, district code, kinds, case surge category, zh topic)
    (24, 10, "990104", ("enterprise", "sensor", "opinion"), "air", "化工园区异味"),
    (19, 15, "990102", ("sensor", "cases"), "flooding", "积水内涝"),
    (13, 9, "990101", ("opinion", "cases"), "parking", "停车难"),
    (8, 20, "990106", ("sensor", "opinion", "cases"), "water-outage", "停水"),
    (4, 11, "990105", ("enterprise", "opinion"), None, "企业欠薪"),
    (1, 14, "990104", ("enterprise", "sensor", "cases"), "air", "化工园区异味"),
]


def plan_incidents(city: _City, end: datetime) -> list[dict]:
    by_code = {d.code: d for d in city.districts}
    out = []
    for days, hour, code, kinds, surge, topic in INCIDENTS:
        d = by_code.get(code)
        if d is None:
            continue
        day0 = end - timedelta(days=days)
        out.append(
            {
                "at": day0 + timedelta(hours=hour),
                "district": d,
                "kinds": kinds,
                "surge": surge if "cases" in kinds else None,
                "topic": topic,
            }
        )
    return out


def build_signals(ctx, city: _City, end: datetime, incidents: list[dict]) -> int:
    """SIGNAL_DAYS of sensor alerts, opinion spikes and enterprise risks per district (background
    plus the injected incidents), as the monitoring, opinion and industry feeds recorded them."""
    from datahub.models import Entity, Event

    if Event.objects.filter(object_ref__startswith=SIGNAL_REF).exists():
        return 0
    rng = random.Random(ctx.seed + 17)
    src_alert = _source("binjiang-alert-history", "监测告警历史记录", "iot", "ecology-environment")
    src_opinion = _source("binjiang-opinion-history", "网络舆情监测历史", "internet", "data-bureau")
    src_risk = _source("binjiang-enterprise-risk", "企业风险预警记录", "government", "market-regulation")
    enterprises: dict[int, list] = {}
    for e in Entity.objects.filter(type="enterprise", merged_into__isnull=True, area__isnull=False).order_by("id")[
        :3000
    ]:
        enterprises.setdefault(e.area_id, []).append(e)
    ent_by_district: dict[int, list] = {d.id: [] for d in city.districts}
    grid_district = {gid: d.id for d in city.districts for gid, _ in city.grids[d.id]}
    for area_id, ents in enterprises.items():
        d = grid_district.get(area_id)
        if d is None:
            d = next(
                (x.id for x in city.districts if Area.objects.filter(id=area_id, code__startswith=x.code).exists()),
                None,
            )
        if d is not None:
            ent_by_district[d] += ents
    metrics = [("pm25", "µg/m³", 75), ("no2", "µg/m³", 80), ("level", "m", 4.5), ("laeq", "dB(A)", 70)]
    start = end - timedelta(days=SIGNAL_DAYS)
    rows: list[tuple] = []
    n = 0

    def alert(d, at, severity, metric=None):
        nonlocal n
        m, unit, limit = metric or rng.choice(metrics)
        gid, lon, lat = _place(rng, city, d)
        value = round(
            limit * (1.1 if severity == "minor" else 1.6 if severity == "major" else 2.4) * rng.uniform(0.95, 1.1), 1
        )
        rows.append(
            (
                "alert.raised",
                at,
                gid,
                lon,
                lat,
                f"{SIGNAL_REF}alert:{n}",
                {
                    "severity": severity,
                    "metric": m,
                    "unit": unit,
                    "value": value,
                    "threshold": limit,
                    "title": f"{d.name}{m}超限 {value}{unit}",
                },
                src_alert,
                city.depts.get("ecology-environment"),
                None,
            )
        )
        n += 1

    def spike(d, at, count, topic):
        nonlocal n
        rows.append(
            (
                "opinion.negative_spike",
                at,
                d.id,
                None,
                None,
                f"{SIGNAL_REF}opinion:{n}",
                {
                    "topic": topic,
                    "count": count,
                    "baseline_mean": 3.0,
                    "baseline_std": 1.8,
                    "title": f"{d.name}“{topic}”负面舆情{count}条",
                },
                src_opinion,
                city.depts.get("data-bureau"),
                None,
            )
        )
        n += 1

    def risk(d, at, level):
        nonlocal n
        ents = ent_by_district.get(d.id) or []
        e = rng.choice(ents) if ents else None
        name = e.name if e else f"{d.name}某企业"
        lon = lat = None
        if e is not None and e.geometry is not None:
            c = e.geometry.centroid
            lon, lat = c.x, c.y
        rows.append(
            (
                "industry.risk_raised",
                at,
                (e.area_id if e else d.id),
                lon,
                lat,
                f"{SIGNAL_REF}risk:{n}",
                {"level": level, "name": name, "title": f"{name}风险预警（{level}）"},
                src_risk,
                city.depts.get("market-regulation"),
                e.id if e else None,
            )
        )
        n += 1

    for d in city.districts:
        for day in range(SIGNAL_DAYS):
            d0 = start + timedelta(days=day)
            for _ in range(_poisson(rng, 0.5)):
                alert(d, d0 + timedelta(minutes=rng.uniform(0, 1440)), "minor")
            if rng.random() < 0.06:
                spike(
                    d,
                    d0 + timedelta(minutes=rng.uniform(0, 1440)),
                    rng.randint(6, 9),
                    rng.choice(["交通", "物业", "环境"]),
                )
            if rng.random() < 0.04:
                risk(d, d0 + timedelta(minutes=rng.uniform(0, 1440)), "minor")
    for inc in incidents:
        d, at = inc["district"], inc["at"]
        if "sensor" in inc["kinds"]:
            metric = metrics[2] if inc["surge"] == "flooding" else metrics[0]
            alert(d, at + timedelta(minutes=20), "major", metric)
            alert(d, at + timedelta(minutes=75), "critical", metric)
        if "opinion" in inc["kinds"]:
            spike(d, at + timedelta(hours=2), rng.randint(22, 30), inc["topic"])
        if "enterprise" in inc["kinds"]:
            risk(d, at + timedelta(hours=1), "high")
    _copy_events(rows)
    for src in (src_alert, src_opinion, src_risk):
        _record_run(src, sum(1 for r in rows if r[7] == src))
    return len(rows)


def build_sensor_history(ctx, end: datetime) -> int:
    """SENSOR_DAYS of the demo sensors' hourly readings before `end`, through the ingest service
    as an import (idempotent: first write wins; rollups merged; a backfill raises no alerts)."""
    from datahub.iot.demo import demo_devices, sensor_reading
    from datahub.iot.services.ingest import observations_store
    from datahub.models import Datastream, IngestBatch, Observation

    streams = {
        (k, m): i
        for k, m, i in Datastream.objects.filter(device__key__startswith="demo-").values_list(
            "device__key", "metric", "id"
        )
    }
    if not streams:
        return 0
    t0 = (end - timedelta(days=SENSOR_DAYS)).timestamp()
    if Observation.objects.filter(
        datastream_id__in=list(streams.values()), time__lt=end - timedelta(days=SENSOR_DAYS - 1)
    ).exists():
        return 0
    rows = []
    for key, kind in demo_devices():
        if kind not in SENSOR_KINDS:
            continue
        for h in range(SENSOR_DAYS * 24):
            t = t0 + h * 3600 + 1800  # mid-hour: one reading stands for the hour
            values = sensor_reading(seed=ctx.seed, key=key, kind=kind, t=t)
            for metric, value in (values or {}).items():
                ds = streams.get((key, metric))
                if ds is not None:
                    rows.append((ds, t, float(value)))
    stored = 0
    for i in range(0, len(rows), 50_000):
        res = observations_store(rows=rows[i : i + 50_000], channel=IngestBatch.Channel.IMPORT, touch_devices=False)
        stored += res.stored
    return stored


def build_judgments(ctx, city: _City, end: datetime, incidents: list[dict]) -> dict:
    """Situations detected day by day over the last DETECT_DAYS days (and today so far); those
    older than three days judged by the duty officer; the last BRIEFING_DAYS briefings built."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from datahub.models import Briefing, Situation

    from .services import briefing, situations

    out = {"situations": 0, "briefings": 0}
    if not Situation.objects.exists():
        for day in range(DETECT_DAYS, 0, -1):
            situations.situations_detect(until=end - timedelta(days=day - 1), window=timedelta(hours=24))
        situations.situations_detect(until=timezone.now(), window=timedelta(hours=24))
        officer = get_user_model().objects.filter(username="envofficer").first()
        truth = [Injected(inc["district"].id, inc["at"], inc["kinds"]) for inc in incidents]
        for s in Situation.objects.filter(window_end__lte=end - timedelta(days=3)).order_by("window_end"):
            verdict = Situation.Status.CONFIRMED if is_true(s, truth) else Situation.Status.DISMISSED
            situations.situation_judge(
                situation_id=s.id,
                verdict=verdict,
                user=officer,
                note="现场核实属实" if verdict == Situation.Status.CONFIRMED else "偶发叠加，非同一事件",
            )
        out["situations"] = Situation.objects.count()
    today = timezone.localdate()
    for k in range(BRIEFING_DAYS, 0, -1):
        day = today - timedelta(days=k)
        if not Briefing.objects.filter(day=day, status=Briefing.Status.READY).exists():
            briefing.briefing_generate(day=day)
            out["briefings"] += 1
    return out


def build_analysis(ctx) -> None:
    """The demo city's analysis step (see the comment above HISTORY_DAYS)."""
    from datetime import time as dtime

    from django.utils import timezone

    city = _city()
    if city is None:
        return
    tz = ZoneInfo(settings.TIME_ZONE)
    end = datetime.combine(timezone.localdate(), dtime.min, tzinfo=tz)  # today 00:00, city time
    incidents = plan_incidents(city, end)
    build_signals(ctx, city, end, incidents)
    build_hotline_history(ctx, city, end, incidents)
    build_sensor_history(ctx, end)
    build_judgments(ctx, city, end, incidents)
