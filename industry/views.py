"""Pages under /industry/: registry, 一企一档 profile, parks, dashboard, chain, policies and matches,
grant proposals, appeals, risk list. Same permissions as the API (industry.permissions)."""

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.access import staff_required
from industry import permissions as perms
from industry import selectors
from industry.filtersets import EnterpriseFilter
from industry.models import Appeal, Criterion, Enterprise, IndustryCode, Match, Metric, Park, Tag
from industry.services import appeals as appeal_services
from industry.services import policies as policy_services
from industry.services.errors import IndustryError
from industry.views_export import export_response


def member_required(view):
    """Staff, or enterprise users (who only ever see their own enterprises)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not (perms.is_staff(request.user) or perms.is_enterprise_user(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _json(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)


@member_required
def registry(request):
    qs = perms.enterprises_visible_to(request.user).select_related("industry", "park").prefetch_related("tags")
    f = EnterpriseFilter(request.GET, queryset=qs.order_by("name", "id"))
    if not f.is_valid():
        f = EnterpriseFilter({}, queryset=qs.order_by("name", "id"))
    if request.GET.get("export") in ("csv", "xlsx"):
        return export_response(f.qs, request=request, fmt=request.GET["export"])
    page = Paginator(f.qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "industry/registry.html",
        {
            "page": page,
            "total": page.paginator.count,
            "params": request.GET.copy(),
            "sections": IndustryCode.objects.filter(level="section").order_by("code"),
            "tags": Tag.objects.order_by("code"),
            "parks": Park.objects.order_by("code"),
            "statuses": Enterprise.Status.choices,
            "sizes": Enterprise.Size.choices,
            "levels": Enterprise.RiskLevel.choices,
            "query": request.GET.urlencode(),
        },
    )


@member_required
def profile(request, pk):
    ent = get_object_or_404(perms.enterprises_visible_to(request.user), pk=pk)
    p = selectors.enterprise_profile(enterprise_id=ent.id, user=request.user)
    metrics = dict(Metric.choices)
    chart = {"series": [{"name": str(metrics.get(m, m)), "data": v} for m, v in p["indicators"].items()]}
    return render(
        request,
        "industry/profile.html",
        {
            "p": p,
            "ent": ent,
            "chart": _json(chart),
            "point": _json([p["lat"], p["lon"]]) if p["lon"] is not None else "",
            "can_appeal": perms.enterprise_can(request.user, "appeal", ent),
            "criterion_labels": dict(Criterion.Kind.choices),
        },
    )


@staff_required
def parks(request):
    visible = perms.enterprises_visible_to(request.user)
    rows = [
        {"park": p, "kpi": selectors.park_kpis(park=p, enterprise_qs=visible)} for p in Park.objects.order_by("code")
    ]
    return render(request, "industry/parks.html", {"rows": rows})


@staff_required
def park_detail(request, pk):
    park = get_object_or_404(Park, pk=pk)
    visible = perms.enterprises_visible_to(request.user)
    kpi = selectors.park_kpis(park=park, enterprise_qs=visible)
    ents = visible.filter(park=park).exclude(location=None).values_list("id", "name", "location")[:2000]
    return render(
        request,
        "industry/park.html",
        {
            "park": park,
            "kpi": kpi,
            "boundary": park.boundary.geojson if park.boundary else "",
            "points": _json([[i, n, loc.y, loc.x] for i, n, loc in ents]),
            "chart": _json(kpi["by_industry"]),
            "series": _json(selectors.monthly_series(metric="output", park_id=park.id, enterprise_qs=visible)),
        },
    )


@staff_required
def dashboard(request):
    metric = request.GET.get("metric", "revenue")
    if metric not in Metric.values:
        metric = "revenue"
    year = timezone.localdate().year - 1
    qs = perms.enterprises_visible_to(request.user)
    sql = qs.values("id").query.sql_with_params()
    data = {
        "series": selectors.monthly_series(metric=metric, enterprise_qs=qs),
        "by_industry": selectors.indicator_rollup(metric=metric, group="industry", year=year, enterprise_ids_sql=sql),
        "by_area": selectors.indicator_rollup(metric=metric, group="area", year=year, enterprise_ids_sql=sql)[:15],
        "by_park": selectors.indicator_rollup(metric=metric, group="park", year=year, enterprise_ids_sql=sql),
    }
    return render(
        request,
        "industry/dashboard.html",
        {
            "metric": metric,
            "metrics": Metric.choices,
            "year": year,
            "data": data,
            "chart": _json(data),
            "counts": qs.aggregate(n=Count("id")),
        },
    )


@staff_required
def chain(request):
    return render(
        request,
        "industry/chain.html",
        {
            "chains": selectors.industry_chain(enterprise_qs=perms.enterprises_visible_to(request.user)),
        },
    )


@member_required
def policies(request):
    qs = perms.policies_visible_to(request.user).annotate(n_matches=Count("matches")).order_by("-valid_from", "code")
    return render(request, "industry/policies.html", {"policies": qs})


@member_required
def policy_detail(request, pk):
    policy = get_object_or_404(
        perms.policies_visible_to(request.user).prefetch_related(
            Prefetch("criteria", queryset=Criterion.objects.order_by("position", "id"))
        ),
        pk=pk,
    )
    matches = (
        Match.objects.filter(policy=policy, enterprise__in=perms.enterprises_visible_to(request.user))
        .select_related("enterprise")
        .order_by("-status", "enterprise__name")
    )
    page = Paginator(matches, 50).get_page(request.GET.get("page"))
    grants = (
        perms.grants_decidable_by(request.user).filter(policy=policy, status="proposed").select_related("enterprise")
    )
    return render(
        request,
        "industry/policy.html",
        {
            "policy": policy,
            "page": page,
            "criteria": list(policy.criteria.all()),
            "labels": dict(Criterion.Kind.choices),
            "proposals": grants.order_by("enterprise__name")[:500],
            "can_manage": perms.policy_can_manage(request.user, policy),
            "params": request.GET.copy(),
        },
    )


@staff_required
def grants(request):
    qs = perms.grants_decidable_by(request.user).filter(status="proposed").select_related("policy", "enterprise")
    page = Paginator(qs.order_by("policy_id", "enterprise__name"), 100).get_page(request.GET.get("page"))
    return render(request, "industry/grants.html", {"page": page, "params": request.GET.copy()})


@staff_required
@require_POST
def grants_decide(request):
    try:
        ids = [int(x) for x in request.POST.getlist("ids")][:5000]
    except ValueError:
        ids = []
    decision = request.POST.get("decision", "confirm")
    allowed = sorted(perms.grants_decidable_by(request.user).filter(id__in=ids).values_list("id", flat=True))
    if not allowed:
        messages.error(request, _("Choose at least one proposal."))
    else:
        try:
            result = policy_services.grants_decide(grant_ids=allowed, decision=decision, actor=request.user)
        except IndustryError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(
                request, _("%(n)d grant(s) decided; the enterprises were notified.") % {"n": len(result["done"])}
            )
    return redirect(request.POST.get("next") or "industry:grants")


@member_required
def appeals(request):
    qs = perms.appeals_visible_to(request.user).select_related("enterprise").order_by("-created_at", "-id")
    status = request.GET.get("status")
    if status in Appeal.Status.values:
        qs = qs.filter(status=status)
    mine = perms.enterprises_visible_to(request.user) if perms.is_enterprise_user(request.user) else None
    if request.method == "POST" and mine is not None:
        ent = get_object_or_404(mine, pk=request.POST.get("enterprise") or 0)
        try:
            appeal = appeal_services.appeal_submit(
                enterprise_id=ent.id,
                title=request.POST.get("title", ""),
                description=request.POST.get("description", ""),
                actor=request.user,
            )
        except IndustryError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, _("Appeal submitted: the city will answer it as a case."))
            return redirect("industry:appeal", pk=appeal.pk)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "industry/appeals.html",
        {
            "page": page,
            "statuses": Appeal.Status.choices,
            "mine": mine,
            "status": status,
            "params": request.GET.copy(),
        },
    )


@member_required
def appeal_detail(request, pk):
    appeal = get_object_or_404(perms.appeals_visible_to(request.user).select_related("enterprise"), pk=pk)
    can_rate = perms.enterprise_can(request.user, "appeal", appeal.enterprise)
    if request.method == "POST" and can_rate:
        try:
            appeal_services.appeal_rate(
                appeal_id=appeal.id,
                rating=int(request.POST.get("rating") or 0),
                comment=request.POST.get("comment", ""),
                actor=request.user,
            )
        except (IndustryError, ValueError) as exc:
            messages.error(request, str(getattr(exc, "detail", exc)))
        else:
            messages.success(request, _("Thank you for your rating."))
        return redirect("industry:appeal", pk=appeal.pk)
    return render(
        request, "industry/appeal.html", {"appeal": appeal, "history": appeal.history.all(), "can_rate": can_rate}
    )


@staff_required
def risk(request):
    qs = perms.enterprises_visible_to(request.user).exclude(risk_level="low").prefetch_related("risk_signals")
    level = request.GET.get("level")
    if level in Enterprise.RiskLevel.values:
        qs = qs.filter(risk_level=level)
    page = Paginator(qs.order_by("-risk_score", "id"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "industry/risk.html",
        {"page": page, "levels": Enterprise.RiskLevel.choices, "level": level, "params": request.GET.copy()},
    )
