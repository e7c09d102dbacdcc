"""Reads of the industry wing: the 一企一档 profile, rollups, park KPIs, the industry chain."""

from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, FloatField, Func, Q, Sum
from django.utils import timezone

from cityos.querysets import Prepared, values_together
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

# The whole profile page / API stays within this many SQL queries (tests/industry/test_profile_risk.py):
# one for everything the industry wing holds (scoping included), one for the datahub's cases,
# alerts and documents around it, and the department scope of an officer.
PROFILE_QUERY_BUDGET = 4


def _mask(name: str) -> str:
    return (name[:1] + "*" * max(1, len(name) - 1)) if name else ""


def _licence_state(valid_to, today) -> str:
    if valid_to and valid_to < today:
        return "expired"
    if valid_to and valid_to <= today + timedelta(days=60):
        return "expiring"
    return "valid"


def _profile_lists(*, enterprise_id: int, since: date) -> dict:
    """The profile's lists, one queryset each (compiled once per process: see _PROFILE_LISTS)."""
    return {
        "tags": Tag.objects.filter(enterprises=enterprise_id).order_by("code").values("code", "name", "name_en"),
        "licences": Licence.objects.filter(enterprise_id=enterprise_id)
        .order_by("valid_to", "id")
        .values("id", "type", "number", "valid_from", "valid_to"),
        "indicators": Indicator.objects.filter(enterprise_id=enterprise_id, period="month", period_start__gte=since)
        .order_by("metric", "period_start")
        .values("metric", "period_start", "value"),
        "policies": Match.objects.filter(enterprise_id=enterprise_id, policy__status="active")
        .order_by("policy_id")
        .values("policy_id", "policy__title", "policy__title_en", "status", "criteria", "policy__automatic"),
        "grants": Grant.objects.filter(enterprise_id=enterprise_id)
        .order_by("-created_at", "-id")
        .values("id", "policy_id", "policy__title", "policy__title_en", "status", "origin", "amount", "decided_at"),
        "appeals": Appeal.objects.filter(enterprise_id=enterprise_id)
        .order_by("-created_at", "-id")
        .values("id", "title", "status", "tracking_number", "created_at", "rating")[:50],
        "risk": RiskSignal.objects.filter(enterprise_id=enterprise_id)
        .order_by("-weight", "code")
        .values("code", "weight", "reason", "reason_en", "value"),
    }


# Sentinels: values no real call passes, replaced by each call's own.
_PROFILE_LISTS = Prepared(_profile_lists, enterprise_id=-7_130_013, since=date(1901, 2, 3))


def enterprise_profile(*, enterprise_id: int, user, visible=None) -> dict | None:
    """Everything about one enterprise (一企一档), or None when it does not exist or `visible` (the
    user's scoped queryset) does not hold it.

    Two SQL round trips whatever the enterprise holds: every list of the industry wing comes back
    from one SELECT of JSON-aggregated subqueries (cityos.querysets.values_together), and the
    datahub's surroundings from another. With a prefetch per list (13 round trips) the p95 was
    100–230 ms on the loaded bench host, mostly waiting for the database to be scheduled."""
    today = timezone.localdate()
    since = date(today.year - 3, 1, 1)
    base = visible if visible is not None else Enterprise.objects.all()
    parts = {
        "ent": base.filter(pk=enterprise_id)
        .annotate(
            lon=Func("location", function="ST_X", output_field=FloatField()),
            lat=Func("location", function="ST_Y", output_field=FloatField()),
        )
        .values(
            "id",
            "entity_id",
            "name",
            "name_en",
            "uscc",
            "legal_representative",
            "registered_capital",
            "founded_on",
            "status",
            "size",
            "address",
            "located",
            "locate_reason",
            "department_id",
            "department__name",
            "industry_id",
            "industry__code",
            "industry__name",
            "industry__name_en",
            "industry__parent__code",
            "industry__parent__name",
            "area_id",
            "area__name",
            "area__name_en",
            "park_id",
            "park__name",
            "park__name_en",
            "risk_score",
            "risk_level",
            "risk_computed_at",
            "lon",
            "lat",
        )[:1],
    }
    rows = values_together(parts, prepared=_PROFILE_LISTS.bind(enterprise_id=enterprise_id, since=since))
    if not rows["ent"]:
        return None
    e = rows["ent"][0]
    lon, lat = e["lon"], e["lat"]
    around = facade.entity_surroundings(
        entity_id=e["entity_id"],
        lon=lon,
        lat=lat,
        event_metres=50,
        event_type_prefix="case.created",
        event_since=timezone.now() - timedelta(days=365),
        alert_metres=200,
        limit=20,
    )
    personal = sees_personal_data(user, Enterprise(id=e["id"], department_id=e["department_id"]))
    series: dict[str, list] = {}
    for r in rows["indicators"]:
        series.setdefault(r["metric"], []).append([r["period_start"].isoformat()[:7], r["value"]])
    statuses, sizes = dict(Enterprise.Status.choices), dict(Enterprise.Size.choices)
    appeal_statuses, signal_labels = dict(Appeal.Status.choices), dict(RiskSignal.Code.choices)
    return {
        "id": e["id"],
        "entity_id": e["entity_id"],
        "name": e["name"],
        "name_en": e["name_en"],
        "uscc": e["uscc"],
        "legal_representative": e["legal_representative"] if personal else _mask(e["legal_representative"]),
        "registered_capital": e["registered_capital"],
        "founded_on": e["founded_on"],
        "status": e["status"],
        "status_label": statuses.get(e["status"], e["status"]),
        "size": e["size"],
        "size_label": sizes.get(e["size"], e["size"]) if e["size"] else "",
        "industry": {
            "code": e["industry__code"],
            "name": e["industry__name"],
            "name_en": e["industry__name_en"],
            "section": e["industry__parent__code"] or e["industry__code"],
            "section_name": e["industry__parent__name"] or e["industry__name"],
        }
        if e["industry_id"]
        else None,
        "tags": rows["tags"],
        "address": e["address"],
        "lon": lon,
        "lat": lat,
        "located": e["located"],
        "locate_reason": e["locate_reason"],
        "area": {"id": e["area_id"], "name": e["area__name"], "name_en": e["area__name_en"]} if e["area_id"] else None,
        "park": {"id": e["park_id"], "name": e["park__name"], "name_en": e["park__name_en"]} if e["park_id"] else None,
        "department": {"id": e["department_id"], "name": e["department__name"]} if e["department_id"] else None,
        "licences": [{**lic, "state": _licence_state(lic["valid_to"], today)} for lic in rows["licences"]],
        "indicators": series,
        "policies": [
            {
                "policy_id": m["policy_id"],
                "title": m["policy__title"],
                "title_en": m["policy__title_en"],
                "status": m["status"],
                "criteria": m["criteria"],
                "automatic": m["policy__automatic"],
            }
            for m in rows["policies"]
        ],
        "grants": [
            {
                "id": g["id"],
                "policy_id": g["policy_id"],
                "title": g["policy__title"],
                "title_en": g["policy__title_en"],
                "status": g["status"],
                "origin": g["origin"],
                "amount": g["amount"],
                "decided_at": g["decided_at"],
            }
            for g in rows["grants"]
        ],
        "appeals": [{**a, "status_label": appeal_statuses.get(a["status"], a["status"])} for a in rows["appeals"]],
        "cases": [
            {
                "id": c["id"],
                "type": c["type"],
                "occurred_at": c["occurred_at"],
                "ref": c["object_ref"],
                "title": (c["payload"] or {}).get("title", ""),
            }
            for c in around["events"]
        ],
        "alerts": around["alerts"],
        "documents": around["documents"],
        "risk": {
            "score": e["risk_score"],
            "level": e["risk_level"],
            "computed_at": e["risk_computed_at"],
            "reasons": [{**r, "label": signal_labels.get(r["code"], r["code"])} for r in rows["risk"]],
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
