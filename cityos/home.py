"""The home page of each role: "what needs me now".

The shell composes each page from the apps' selectors (governance.selectors.home) and the datahub's
reads, scoped by the same visibility rules as the pages they link to. One function per persona
(cityos.navigation.persona) returns the template and its context.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Value
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

SPARK_W, SPARK_H = 100, 28


def sparkline(values: list) -> str:
    """SVG polyline points for a series (None = no value that day, skipped); "" if nothing to draw."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    lo, hi = min(v for _i, v in pts), max(v for _i, v in pts)
    span = (hi - lo) or 1
    step = SPARK_W / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{SPARK_H - 2 - (v - lo) / span * (SPARK_H - 4):.1f}" for i, v in pts)


def _kpi(label, value, *, url="", series=None, bad=False, unit="", key="", hint=""):
    return {
        "key": key,
        "label": label,
        "value": "—" if value is None else value,
        "unit": unit if value is not None else "",
        "url": url,
        "spark": sparkline(series or []),
        "bad": bad,
        "hint": hint,
    }


def _url(name: str, query: str = "", **kwargs) -> str:
    """The page's URL, or "" when that page is not installed (the KPI then shows without a link)."""
    try:
        url = reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""
    return f"{url}?{query}" if query else url


def local_name(name: str, name_en: str = "") -> str:
    return name_en if name_en and (get_language() or "").startswith("en") else name


def _per_day(qs, field: str, days: int = 14) -> list[int]:
    from django.db.models.functions import TruncDate

    today = timezone.localdate()
    index = [today - timedelta(days=days - 1 - i) for i in range(days)]
    since = timezone.make_aware(timezone.datetime.combine(index[0], timezone.datetime.min.time()))
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(d=TruncDate(field, tzinfo=timezone.get_current_timezone()))
        .values("d")
        .annotate(n=Count("id"))
        .order_by("d")
    )
    got = {r["d"]: r["n"] for r in rows}
    return [got.get(d, 0) for d in index]


def event_type_label(code: str) -> str:
    """An event type as words: the shell's label registry (cityos.labels, issue 18 item 4) once it
    is there, else the code's words ("case.created" -> "Case created"), never the identifier."""
    try:
        from cityos.labels import event_label
    except ImportError:
        words = code.replace(".", " ").replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    return event_label(code)


# --- datahub reads the homes share -----------------------------------------------------------------


def alerts_summary(user, limit: int = 6) -> dict:
    from datahub.monitoring.models import Severity
    from datahub.monitoring.selectors import alerts_visible

    qs = alerts_visible(user)
    active = qs.filter(status="active")
    by_sev = dict(active.values_list("severity").annotate(n=Count("id")).order_by())
    order = {s: i for i, s in enumerate(Severity.values)}
    top = sorted(active[:50], key=lambda a: (order.get(a.severity, 9), -a.raised_at.timestamp()))[:limit]
    return {
        "active": active.count(),
        "by_severity": [{"code": s, "label": label, "n": by_sev.get(s, 0)} for s, label in Severity.choices],
        "series": _per_day(qs, "raised_at"),
        "rows": [
            {
                "id": a.id,
                "title": a.title,
                "severity": a.severity,
                "severity_label": a.get_severity_display(),
                "raised_at": a.raised_at,
                "acknowledged": a.acknowledged,
            }
            for a in top
        ],
    }


def devices_offline(user) -> dict:
    from datahub.iot.models import ONLINE_GRACE_INTERVALS
    from datahub.iot.selectors import devices_visible_to

    now = timezone.now()
    qs = devices_visible_to(user).filter(is_active=True)
    grace = ExpressionWrapper(
        F("expected_interval_s") * Value(timedelta(seconds=ONLINE_GRACE_INTERVALS)), output_field=DurationField()
    )
    offline = qs.annotate(grace=grace).filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - F("grace")))
    return {"offline": offline.count(), "total": qs.count()}


def opinion_summary(days: int = 7) -> dict:
    from datahub.models import Document

    since = timezone.now() - timedelta(days=days)
    qs = Document.objects.filter(published_at__gte=since)
    agg = qs.aggregate(n=Count("id"), neg=Count("id", filter=Q(sentiment="negative")))
    topics = [
        {"label": dict(Document._meta.get_field("topic").choices).get(r["topic"], r["topic"]), "n": r["n"]}
        for r in qs.values("topic").annotate(n=Count("id")).order_by("-n", "topic")[:5]
    ]
    return {
        "documents": agg["n"],
        "negative": agg["neg"],
        "negative_share": round(100 * agg["neg"] / agg["n"], 1) if agg["n"] else None,
        "series": _per_day(Document.objects.all(), "published_at"),
        "negative_series": _per_day(Document.objects.filter(sentiment="negative"), "published_at"),
        "topics": topics,
    }


def district_map() -> list[dict]:
    """Districts with their open cases, for the leader's map (GeoJSON features)."""
    from datahub import facade
    from governance.selectors.efficiency import open_cases_by_area

    counts = open_cases_by_area(level="district")
    return [
        {
            "type": "Feature",
            "geometry": a["geometry"],
            "properties": {"id": a["id"], "name": local_name(a["name"], a["name_en"]), "open": counts.get(a["id"], 0)},
        }
        for a in facade.area_geometries(level="district", simplify=0.001)
    ]


# --- one home per persona -------------------------------------------------------------------------


def city_leader(user) -> dict:
    from governance.selectors.home import city_case_kpis, supervision_orders

    c = city_case_kpis(user=user)
    alerts = alerts_summary(user)
    opinion = opinion_summary()
    devices = devices_offline(user)
    critical = next((s["n"] for s in alerts["by_severity"] if s["code"] == "critical"), 0)
    kpis = [
        _kpi(_("Cases today"), c["today"], url=_url("governance:inbox"), series=c["today_series"], key="cases-today"),
        _kpi(
            _("Overdue cases"),
            c["overdue"],
            url=_url("governance:inbox", "overdue=true"),
            series=c["overdue_series"],
            bad=c["overdue"] > 0,
            key="overdue",
        ),
        _kpi(
            _("On-time rate (30 days)"),
            c["on_time_rate"],
            unit="%",
            url=_url("governance:efficiency"),
            series=c["on_time_series"],
            key="on-time",
        ),
        _kpi(
            _("Satisfaction (30 days)"),
            c["satisfaction"],
            unit="/5",
            series=c["satisfaction_series"],
            url=_url("livelihood:ratings"),
            key="satisfaction",
            hint=_("%(n)d ratings") % {"n": c["ratings"]},
        ),
        _kpi(
            _("Active alerts"),
            alerts["active"],
            url=_url("monitoring:console"),
            series=alerts["series"],
            bad=critical > 0,
            key="alerts",
            hint=_("%(n)d critical") % {"n": critical},
        ),
        _kpi(
            _("Public opinion (7 days)"),
            opinion["documents"],
            url=_url("datahub-opinion"),
            series=opinion["series"],
            key="opinion",
            hint=_("%(p)s%% negative") % {"p": opinion["negative_share"]}
            if opinion["negative_share"] is not None
            else "",
        ),
        _kpi(
            _("Sensors offline"),
            devices["offline"],
            url=_url("datahub:iot-map"),
            bad=devices["offline"] > 0,
            key="sensors-offline",
            hint=_("of %(n)d devices") % {"n": devices["total"]},
        ),
    ]
    return {
        "template": "cityos/home/city_leader.html",
        "title": _("City at a glance"),
        "kpis": kpis,
        "alerts": alerts,
        "opinion": opinion,
        "supervision": supervision_orders(user=user, limit=5),
        "map_features": district_map(),
        "open_cases": c["open"],
    }


def department_officer(user) -> dict:
    from governance.selectors.home import department_queue, supervision_orders

    q = department_queue(user=user)
    return {
        "template": "cityos/home/department_officer.html",
        "title": _("My department's work"),
        "kpis": [
            _kpi(_("New"), q["new"], url=_url("governance:inbox", "status=dispatched"), key="new"),
            _kpi(_("Due soon"), q["due_soon"], url=_url("governance:supervision"), key="due-soon", bad=False),
            _kpi(
                _("Overdue"),
                q["overdue"],
                url=_url("governance:inbox", "overdue=true"),
                key="overdue",
                bad=q["overdue"] > 0,
            ),
            _kpi(_("Reopened"), q["reopened"], url=_url("governance:inbox", "open=true"), key="reopened"),
        ],
        "queue": q,
        "alerts": alerts_summary(user),
        "supervision": supervision_orders(user=user),
    }


def hotline_operator(user) -> dict:
    from governance.selectors.home import hotline_today, supervision_orders

    h = hotline_today(user=user)
    return {
        "template": "cityos/home/hotline_operator.html",
        "title": _("12345 hotline desk"),
        "kpis": [
            _kpi(
                _("Calls today"),
                h["calls_today"],
                url=_url("governance:inbox", "channel=hotline"),
                series=h["calls_series"],
                key="calls-today",
            ),
            _kpi(_("Taken by me today"), h["mine_today"], key="mine-today"),
            _kpi(
                _("Awaiting dispatch"),
                h["triage"],
                url=_url("governance:inbox", "triage=true"),
                key="triage",
                bad=h["triage"] > 0,
            ),
            _kpi(
                _("Returned for redispatch"),
                h["returned"],
                url=_url("governance:inbox", "status=returned"),
                key="returned",
                bad=h["returned"] > 0,
            ),
        ],
        "hotline": h,
        "supervision": supervision_orders(user=user, limit=5),
    }


def grid_worker(user) -> dict:
    from governance.selectors.home import grid_worker_home

    g = grid_worker_home(user=user)
    return {
        "template": "cityos/home/grid_worker.html",
        "title": _("My grid today"),
        "kpis": [
            _kpi(_("Open cases in my grid"), g["open_count"], key="grid-open"),
            _kpi(_("My tasks"), g["task_count"], key="tasks"),
            _kpi(_("My reports today"), g["reports_today"], url=_url("governance:patrol"), key="reports-today"),
        ],
        "grid": g,
    }


def analyst(user) -> dict:
    from datahub.analysis.models import Situation
    from datahub.core.selectors.events import events_visible_to
    from datahub.datasets.selectors import datasets_visible_to

    datasets = datasets_visible_to(user)
    opinion = opinion_summary()
    events = events_visible_to(user)
    top_types = list(
        events.filter(occurred_at__gte=timezone.now() - timedelta(days=14))
        .values("type")
        .annotate(n=Count("id"))
        .order_by("-n", "type")[:5]
    )
    return {
        "template": "cityos/home/analyst.html",
        "title": _("Data, opinion and trends"),
        "kpis": [
            _kpi(_("Datasets"), datasets.count(), url=_url("datahub:dataset-catalogue"), key="datasets"),
            _kpi(
                _("Public opinion (7 days)"),
                opinion["documents"],
                url=_url("datahub-opinion"),
                series=opinion["series"],
                key="opinion",
            ),
            _kpi(
                _("Negative share"),
                opinion["negative_share"],
                unit="%",
                series=opinion["negative_series"],
                url=_url("datahub-opinion"),
                key="negative",
                bad=(opinion["negative_share"] or 0) > 30,
            ),
            _kpi(
                _("Events (14 days)"),
                sum(_per_day(events, "occurred_at")),
                url=_url("analysis:trends"),
                series=_per_day(events, "occurred_at"),
                key="events",
            ),
            _kpi(
                _("Open situations"),
                Situation.objects.filter(status="open").count(),
                url=_url("analysis:situations"),
                key="situations",
            ),
        ],
        "datasets": list(datasets.select_related("owner_department").order_by("-updated_at")[:6]),
        "opinion": opinion,
        "event_types": [
            {
                "label": event_type_label(t["type"]),
                "n": t["n"],
                "spark": sparkline(_per_day(events.filter(type=t["type"]), "occurred_at")),
            }
            for t in top_types
        ],
    }


def administrator(user) -> dict:
    from datahub.models import DatasetImport, Run, SeriesImport

    from .health import _timed, check_database, check_redis
    from .models import EventDelivery, EventSubscription

    week = timezone.now() - timedelta(days=7)
    failed_runs = Run.objects.filter(status=Run.Status.FAILED, created_at__gte=week).select_related("source")
    failed_imports = DatasetImport.objects.filter(status="failed", created_at__gte=week).select_related("dataset")
    failed_series = SeriesImport.objects.filter(status="failed", created_at__gte=week)
    running = (
        DatasetImport.objects.filter(status__in=["queued", "running"]).count()
        + SeriesImport.objects.filter(status__in=["queued", "running"]).count()
    )
    troubled = (
        # The city's own webhooks (staff event subscriptions: the monitoring webhook pages).
        EventSubscription.objects.filter(application__isnull=True)
        .filter(Q(disabled_at__isnull=False) | Q(consecutive_failures__gt=0))
        .annotate(dead=Count("deliveries", filter=Q(deliveries__status="dead", deliveries__created_at__gte=week)))
        .order_by("-consecutive_failures", "name")
    )
    dead = EventDelivery.objects.filter(
        subscription__application__isnull=True, status="dead", created_at__gte=week
    ).count()
    health = [
        {"name": _("Database"), **_timed(check_database)},
        {"name": _("Redis"), **_timed(check_redis)},
    ]
    jobs = (
        [
            {
                "kind": _("Source run"),
                "name": str(r.source),
                "at": r.finished_at or r.created_at,
                "error": _first_error(r.errors),
                "url": "",
            }
            for r in failed_runs.order_by("-created_at")[:5]
        ]
        + [
            {
                "kind": _("Dataset import"),
                "name": f"{i.dataset.title} · {i.filename}",
                "at": i.created_at,
                "error": _first_error(getattr(i, "errors", None)),
                "url": _url("datahub:import-detail", pk=i.id),
            }
            for i in failed_imports.order_by("-created_at")[:5]
        ]
        + [
            {
                "kind": _("Series import"),
                "name": i.filename,
                "at": i.created_at,
                "error": "",
                "url": _url("datahub:iot-import", pk=i.id),
            }
            for i in failed_series.order_by("-created_at")[:5]
        ]
    )
    jobs.sort(key=lambda j: j["at"], reverse=True)
    failed = failed_runs.count() + failed_imports.count() + failed_series.count()
    return {
        "template": "cityos/home/administrator.html",
        "title": _("System status"),
        "kpis": [
            _kpi(
                _("Components up"),
                sum(h["status"] == "up" for h in health),
                unit=f"/{len(health)}",
                key="health",
                bad=any(h["status"] != "up" for h in health),
                url=_url("health"),
            ),
            _kpi(_("Imports running"), running, url=_url("datahub:iot-imports"), key="imports-running"),
            _kpi(_("Failed jobs (7 days)"), failed, bad=failed > 0, key="failed-jobs"),
            _kpi(
                _("Webhooks in trouble"),
                troubled.count(),
                url=_url("monitoring:webhooks"),
                bad=troubled.exists(),
                key="webhooks",
                hint=_("%(n)d dead deliveries") % {"n": dead},
            ),
        ],
        "health": health,
        "jobs": jobs[:8],
        "webhooks": list(troubled[:6]),
        "recent_imports": list(DatasetImport.objects.select_related("dataset").order_by("-created_at")[:5]),
    }


def _first_error(errors) -> str:
    if not errors:
        return ""
    first = errors[0] if isinstance(errors, list) else errors
    if isinstance(first, dict):
        first = first.get("message") or first.get("error") or next(iter(first.values()), "")
    return str(first)[:200]


HOMES = {
    "city_leader": city_leader,
    "department_officer": department_officer,
    "hotline_operator": hotline_operator,
    "grid_worker": grid_worker,
    "analyst": analyst,
    "administrator": administrator,
}


def home_for(user) -> dict:
    from .navigation import persona

    return HOMES.get(persona(user), analyst)(user)
