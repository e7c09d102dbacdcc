"""Reads of the industry wing: the 一企一档 profile, rollups, park KPIs, the industry chain."""

from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, Prefetch, Q, Sum
from django.utils import timezone

from datahub import facade
from industry.models import (
    Appeal,
    ChainLink,
    Enterprise,
    Grant,
    Indicator,
    IndustryCode,
    Licence,
    Match,
    Park,
    RiskSignal,
    Tag,
)
from industry.permissions import sees_personal_data

# The whole profile page / API stays within this many SQL queries (tests/industry/test_profile.py).
PROFILE_QUERY_BUDGET = 16


def _mask(name: str) -> str:
    return (name[:1] + "*" * max(1, len(name) - 1)) if name else ""


def enterprise_profile(*, enterprise: Enterprise, user) -> dict:
    """Everything about one enterprise in a fixed number of queries (see PROFILE_QUERY_BUDGET)."""
    ent = (
        Enterprise.objects.select_related("industry", "industry__parent", "area", "park", "department")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("code")),
            Prefetch("licences", queryset=Licence.objects.order_by("valid_to", "id")),
            Prefetch("risk_signals", queryset=RiskSignal.objects.order_by("-weight")),
            Prefetch(
                "matches",
                queryset=Match.objects.select_related("policy")
                .defer("policy__text", "policy__text_en")
                .filter(policy__status="active")
                .order_by("policy_id"),
            ),
            Prefetch(
                "grants",
                queryset=Grant.objects.select_related("policy")
                .defer("policy__text", "policy__text_en")
                .order_by("-created_at"),
            ),
            Prefetch("appeals", queryset=Appeal.objects.order_by("-created_at")),
        )
        # The page shows the area's and the park's names only: their polygons stay in the database.
        .defer("area__geometry", "area__attributes", "park__boundary")
        .get(pk=enterprise.pk)
    )
    today = timezone.localdate()
    since = date(today.year - 3, 1, 1)
    series: dict[str, list] = {}
    for metric, start, value in (
        Indicator.objects.filter(enterprise=ent, period="month", period_start__gte=since)
        .order_by("metric", "period_start")
        .values_list("metric", "period_start", "value")
    ):
        series.setdefault(metric, []).append([start.isoformat()[:7], value])
    loc = ent.location
    lon, lat = (loc.x, loc.y) if loc else (None, None)
    cases = facade.events_near(
        lon=lon,
        lat=lat,
        metres=50,
        subject_id=ent.entity_id,
        type_prefix="case.created",
        since=timezone.now() - timedelta(days=365),
        limit=20,
    )
    alerts = facade.alerts_near(lon=lon, lat=lat, metres=200, subject_id=ent.entity_id, limit=20)
    docs = facade.documents_mentioning(entity_id=ent.entity_id, limit=20)
    personal = sees_personal_data(user, ent)
    ic = ent.industry
    return {
        "id": ent.id,
        "entity_id": ent.entity_id,
        "name": ent.name,
        "name_en": ent.name_en,
        "uscc": ent.uscc,
        "legal_representative": ent.legal_representative if personal else _mask(ent.legal_representative),
        "registered_capital": ent.registered_capital,
        "founded_on": ent.founded_on,
        "status": ent.status,
        "status_label": ent.get_status_display(),
        "size": ent.size,
        "size_label": ent.get_size_display() if ent.size else "",
        "industry": {
            "code": ic.code,
            "name": ic.name,
            "name_en": ic.name_en,
            "section": ic.parent.code if ic.parent else ic.code,
            "section_name": ic.parent.name if ic.parent else ic.name,
        }
        if ic
        else None,
        "tags": [{"code": t.code, "name": t.name, "name_en": t.name_en} for t in ent.tags.all()],
        "address": ent.address,
        "lon": lon,
        "lat": lat,
        "located": ent.located,
        "locate_reason": ent.locate_reason,
        "area": {"id": ent.area.id, "name": ent.area.name, "name_en": ent.area.name_en} if ent.area else None,
        "park": {"id": ent.park.id, "name": ent.park.name, "name_en": ent.park.name_en} if ent.park else None,
        "department": {"id": ent.department.id, "name": ent.department.name} if ent.department else None,
        "licences": [
            {
                "id": lic.id,
                "type": lic.type,
                "number": lic.number,
                "valid_from": lic.valid_from,
                "valid_to": lic.valid_to,
                "state": "expired"
                if lic.valid_to and lic.valid_to < today
                else "expiring"
                if lic.valid_to and lic.valid_to <= today + timedelta(days=60)
                else "valid",
            }
            for lic in ent.licences.all()
        ],
        "indicators": series,
        "policies": [
            {
                "policy_id": m.policy_id,
                "title": m.policy.title,
                "title_en": m.policy.title_en,
                "status": m.status,
                "criteria": m.criteria,
                "automatic": m.policy.automatic,
            }
            for m in ent.matches.all()
        ],
        "grants": [
            {
                "id": g.id,
                "policy_id": g.policy_id,
                "title": g.policy.title,
                "title_en": g.policy.title_en,
                "status": g.status,
                "origin": g.origin,
                "amount": g.amount,
                "decided_at": g.decided_at,
            }
            for g in ent.grants.all()
        ],
        "appeals": [
            {
                "id": a.id,
                "title": a.title,
                "status": a.status,
                "status_label": a.get_status_display(),
                "tracking_number": a.tracking_number,
                "created_at": a.created_at,
                "rating": a.rating,
            }
            for a in ent.appeals.all()[:50]
        ],
        "cases": [
            {
                "id": c["id"],
                "type": c["type"],
                "occurred_at": c["occurred_at"],
                "ref": c["object_ref"],
                "title": (c["payload"] or {}).get("title", ""),
            }
            for c in cases
        ],
        "alerts": alerts,
        "documents": docs,
        "risk": {
            "score": ent.risk_score,
            "level": ent.risk_level,
            "computed_at": ent.risk_computed_at,
            "reasons": [
                {
                    "code": s.code,
                    "label": s.get_code_display(),
                    "weight": s.weight,
                    "reason": s.reason,
                    "reason_en": s.reason_en,
                    "value": s.value,
                }
                for s in ent.risk_signals.all()
            ],
        },
    }


# --- rollups --------------------------------------------------------------------------------------


def indicator_rollup(
    *, metric: str, group: str, year: int, enterprise_ids_sql: tuple[str, list] | None = None
) -> list[dict]:
    """Totals of one metric per area / industry section / park for a year and the one before, with
    year-on-year growth: [{"key", "name", "value", "previous", "yoy"}]."""
    col = {"area": "e.area_id", "industry": "e.section_code", "park": "e.park_id"}[group]
    where, params = ("", [])
    if enterprise_ids_sql:
        where, params = f" AND e.id IN ({enterprise_ids_sql[0]})", list(enterprise_ids_sql[1])
    sql = f"""
        SELECT {col} AS k,
               sum(i.value) FILTER (WHERE i.period_start = %s) AS cur,
               sum(i.value) FILTER (WHERE i.period_start = %s) AS prev,
               count(DISTINCT e.id) AS n
        FROM industry_indicator i JOIN industry_enterprise e ON e.id = i.enterprise_id
        WHERE i.metric = %s AND i.period = 'year' AND i.period_start IN (%s, %s) AND {col} IS NOT NULL {where}
        GROUP BY 1 ORDER BY cur DESC NULLS LAST
    """  # noqa: S608 - col is one of three literals; the rest is bound
    cur_y, prev_y = date(year, 1, 1), date(year - 1, 1, 1)
    with connection.cursor() as cur:
        cur.execute(sql, [cur_y, prev_y, metric, cur_y, prev_y, *params])
        rows = cur.fetchall()
    names = _names(group, [r[0] for r in rows])
    return [
        {
            "key": k,
            "name": names.get(k, (str(k), ""))[0],
            "name_en": names.get(k, ("", ""))[1],
            "value": c,
            "previous": p,
            "enterprises": n,
            "yoy": round((c / p - 1) * 100, 1) if c is not None and p else None,
        }
        for k, c, p, n in rows
        if k not in ("", None)
    ]


def _names(group: str, keys: list) -> dict:
    if group == "industry":
        return {c.code: (c.name, c.name_en) for c in IndustryCode.objects.filter(code__in=keys)}
    if group == "park":
        return {p.id: (p.name, p.name_en) for p in Park.objects.filter(id__in=keys)}
    out = {}
    for k in keys:
        a = facade.area_get(id=k) if k else None
        if a:
            out[k] = (a.name, a.name_en)
    return out


def monthly_series(*, metric: str, months: int = 36, enterprise_qs=None, park_id: int | None = None) -> list[dict]:
    """City (or park) total per month with month-on-month and year-on-year growth."""
    qs = Indicator.objects.filter(metric=metric, period="month")
    if enterprise_qs is not None:
        qs = qs.filter(enterprise__in=enterprise_qs)
    if park_id is not None:
        qs = qs.filter(enterprise__park_id=park_id)
    today = timezone.localdate()
    since = date(today.year - (months // 12) - 1, today.month, 1)
    rows = list(
        qs.filter(period_start__gte=since).values("period_start").annotate(v=Sum("value")).order_by("period_start")
    )
    by = {r["period_start"]: r["v"] for r in rows}
    out = []
    for r in rows[-months:]:
        d, v = r["period_start"], r["v"]
        prev_m = by.get(date(d.year - (d.month == 1), (d.month - 2) % 12 + 1, 1))
        prev_y = by.get(date(d.year - 1, d.month, 1))
        out.append(
            {
                "month": d.isoformat()[:7],
                "value": v,
                "mom": round((v / prev_m - 1) * 100, 1) if prev_m else None,
                "yoy": round((v / prev_y - 1) * 100, 1) if prev_y else None,
            }
        )
    return out


def park_kpis(*, park: Park, enterprise_qs) -> dict:
    """Enterprises by industry, occupancy, output and tax per mu (亩均), growth."""
    ents = enterprise_qs.filter(park=park)
    by_industry = list(ents.values("section_code").annotate(n=Count("id")).order_by("-n"))
    year = timezone.localdate().year - 1
    totals = {
        r["metric"]: r
        for r in (
            Indicator.objects.filter(
                enterprise__in=ents,
                period="year",
                metric__in=["output", "tax", "revenue"],
                period_start__in=[date(year, 1, 1), date(year - 1, 1, 1)],
            )
            .values("metric")
            .annotate(
                cur=Sum("value", filter=Q(period_start=date(year, 1, 1))),
                prev=Sum("value", filter=Q(period_start=date(year - 1, 1, 1))),
            )
        )
    }
    n = ents.count()
    mu = float(park.land_mu or 0)

    def per_mu(metric):
        v = (totals.get(metric) or {}).get("cur")
        return round(v / mu, 2) if v is not None and mu else None

    def growth(metric):
        t = totals.get(metric) or {}
        return round((t["cur"] / t["prev"] - 1) * 100, 1) if t.get("cur") is not None and t.get("prev") else None

    names = {c.code: (c.name, c.name_en) for c in IndustryCode.objects.filter(level="section")}
    return {
        "year": year,
        "enterprises": n,
        "occupancy": round(n / park.capacity * 100, 1) if park.capacity else None,
        "output": (totals.get("output") or {}).get("cur"),
        "tax": (totals.get("tax") or {}).get("cur"),
        "output_per_mu": per_mu("output"),
        "tax_per_mu": per_mu("tax"),
        "output_growth": growth("output"),
        "tax_growth": growth("tax"),
        "by_industry": [
            {
                "code": r["section_code"],
                "name": names.get(r["section_code"], ("", ""))[0],
                "name_en": names.get(r["section_code"], ("", ""))[1],
                "count": r["n"],
            }
            for r in by_industry
            if r["section_code"]
        ],
    }


def industry_chain(*, enterprise_qs) -> list[dict]:
    """Each chain with its links, the enterprises per code, and the 补链 gaps (codes with none)."""
    counts = dict(enterprise_qs.exclude(industry_code="").values_list("industry_code").annotate(n=Count("id")))
    chains: dict[str, dict] = {}
    for link in ChainLink.objects.select_related("upstream", "downstream"):
        ch = chains.setdefault(link.chain, {"chain": link.chain, "chain_en": link.chain_en, "nodes": {}, "links": []})
        for ic in (link.upstream, link.downstream):
            ch["nodes"][ic.code] = {
                "code": ic.code,
                "name": ic.name,
                "name_en": ic.name_en,
                "enterprises": counts.get(ic.code, 0),
            }
        ch["links"].append(
            {
                "from": link.upstream.code,
                "to": link.downstream.code,
                "gap": not counts.get(link.upstream.code) or not counts.get(link.downstream.code),
            }
        )
    out = []
    for ch in chains.values():
        nodes = list(ch["nodes"].values())
        out.append({**ch, "nodes": nodes, "gaps": [n for n in nodes if n["enterprises"] == 0]})
    return out
