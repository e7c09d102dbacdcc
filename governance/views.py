"""Pages of the governance app: parse, call a selector or service, render."""

import csv
import json
from datetime import datetime, time, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.roles import STAFF_ROLES
from datahub import facade
from governance import permissions
from governance.filtersets import CaseFilter
from governance.forms import DispatchRuleForm, IntakeForm
from governance.models import OPEN_STATUSES, Case, Category, DispatchRule, Status, SupervisionOrder
from governance.pagination import CappedPaginator
from governance.selectors.cases import case_duplicates, case_inbox, sla_state
from governance.selectors.efficiency import EFFICIENCY_COLUMNS, efficiency_by_department, open_cases_by_area
from governance.services.cases import (
    TRANSITIONS,
    allowed_actions,
    case_attach,
    case_create,
    case_merge,
    case_rate,
    case_transition,
)
from governance.services.classification import category_correct
from governance.services.errors import CaseError
from governance.services.supervision import supervision_answer, supervision_issue


def staff_required(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not (request.user.is_superuser or request.user.role in STAFF_ROLES):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# --- intake ------------------------------------------------------------------------------------


@staff_required
def intake(request):
    """The hotline operator's form: every call becomes a case with a tracking number."""
    form = IntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            case = case_create(
                channel="hotline",
                title=d["title"],
                description=d["description"],
                category_id=d["category"].id if d["category"] else None,
                priority=d["priority"],
                lon=d["lon"],
                lat=d["lat"],
                address=d["address"],
                reporter_name=d["reporter_name"],
                reporter_phone=d["reporter_phone"],
                actor=request.user,
            )
        except CaseError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(request, _("Case %(number)s received.") % {"number": case.tracking_number})
            return redirect("governance:case", pk=case.pk)
    return render(request, "governance/intake.html", {"form": form})


# --- public ------------------------------------------------------------------------------------


def track(request):
    """Public: follow a case by its tracking number (no login; no private data shown)."""
    number = (request.GET.get("n") or "").strip()
    case = None
    if number:
        case = (
            Case.objects.select_related("category", "department")
            .prefetch_related("transitions")
            .filter(tracking_number=number)
            .first()
        )
    return render(
        request,
        "governance/track.html",
        {"number": number, "case": case, "not_found": bool(number and case is None)},
    )


@require_POST
def rate(request):
    number = (request.POST.get("n") or "").strip()
    try:
        rating = int(request.POST.get("rating", ""))
        case_rate(tracking_number=number, rating=rating, comment=request.POST.get("comment", ""))
    except ValueError:
        messages.error(request, _("Choose a rating from 1 to 5."))
    except CaseError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Thank you for your rating."))
    return redirect(f"{_url('governance:track')}?n={number}")


def _url(name, **kw):
    from django.urls import reverse

    return reverse(name, kwargs=kw or None)


# --- inbox -------------------------------------------------------------------------------------


@staff_required
def inbox(request):
    qs = case_inbox(user=request.user)
    params = request.GET.copy()
    if not any(k in params for k in ("status", "open", "q", "overdue", "department", "category")):
        params["open"] = "true"
    filt = CaseFilter(params, queryset=qs)
    page = CappedPaginator(filt.qs, 50).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(c, sla_state(c, now)) for c in page.object_list]
    return render(
        request,
        "governance/inbox.html",
        {
            "page": page,
            "rows": rows,
            "filter": filt,
            "params": params,
            "statuses": Status.choices,
            "categories": Category.objects.filter(is_active=True).order_by("code"),
            "bulk_actions": ["accept", "start", "dispatch", "verify", "close"],
            "is_dispatcher": permissions.is_dispatcher(request.user),
            "querystring": params.urlencode(),
        },
    )


@staff_required
@require_POST
def bulk(request):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    action = request.POST.get("action", "")
    visible = set(case_inbox(user=request.user).filter(pk__in=ids).values_list("pk", flat=True))
    done, failed = 0, []
    for case_id in ids:
        if case_id not in visible or action not in TRANSITIONS or action == "merge":
            failed.append(str(case_id))
            continue
        try:
            with transaction.atomic():
                case_transition(case_id=case_id, action=action, actor=request.user, note=request.POST.get("note", ""))
            done += 1
        except CaseError as exc:
            failed.append(f"{case_id}: {exc.detail}")
    if done:
        messages.success(request, _("%(n)d cases updated.") % {"n": done})
    if failed:
        messages.error(request, _("Not updated: %(list)s") % {"list": "; ".join(failed[:10])})
    return redirect(request.POST.get("next") or "governance:inbox")


# --- case page ---------------------------------------------------------------------------------


def _visible_case(request, pk) -> Case:
    case = get_object_or_404(
        case_inbox(user=request.user).prefetch_related("transitions__actor", "attachments", "supervisions"), pk=pk
    )
    return case


@staff_required
def case_detail(request, pk: int):
    case = _visible_case(request, pk)
    return render(
        request,
        "governance/case.html",
        {
            "case": case,
            "sla": sla_state(case),
            "actions": allowed_actions(case=case, user=request.user),
            "departments": facade.department_list(),
            "categories": Category.objects.filter(is_active=True).order_by("code"),
            "duplicates": case_duplicates(case=case)[:10],
            "is_dispatcher": permissions.is_dispatcher(request.user),
            "can_handle": permissions.can_handle(request.user, case),
            "point": json.dumps([case.location.y, case.location.x]) if case.location else "null",
        },
    )


@staff_required
@require_POST
def case_action(request, pk: int):
    case = _visible_case(request, pk)
    kind = request.POST.get("kind", "transition")
    try:
        if kind == "transition":
            dept = request.POST.get("department")
            case_transition(
                case_id=case.id,
                action=request.POST.get("action", ""),
                actor=request.user,
                note=request.POST.get("note", ""),
                department_id=int(dept) if dept else None,
            )
        elif kind == "category":
            if not (permissions.can_handle(request.user, case) or permissions.is_dispatcher(request.user)):
                raise PermissionDenied
            category_correct(case_id=case.id, category_id=int(request.POST["category"]), actor=request.user)
        elif kind == "merge":
            dup = get_object_or_404(case_inbox(user=request.user), pk=int(request.POST["duplicate"]))
            case_merge(primary_id=case.id, duplicate_id=dup.id, actor=request.user)
        elif kind == "attach" and request.FILES.get("file"):
            case_attach(case_id=case.id, uploaded_file=request.FILES["file"], actor=request.user)
        elif kind == "supervise":
            supervision_issue(
                case_id=case.id,
                actor=request.user,
                instruction=request.POST.get("instruction", ""),
                hours=float(request.POST.get("hours") or 8),
            )
        elif kind == "answer":
            supervision_answer(
                order_id=int(request.POST["order"]), actor=request.user, answer=request.POST.get("answer", "")
            )
        messages.success(request, _("Done."))
    except CaseError as exc:
        messages.error(request, str(exc.detail))
    except (ValueError, KeyError):
        messages.error(request, _("Incomplete form."))
    return redirect("governance:case", pk=case.pk)


# --- dispatch rules ----------------------------------------------------------------------------


@staff_required
def rules(request):
    editable = permissions.is_dispatcher(request.user)
    form = DispatchRuleForm(request.POST or None)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if request.POST.get("delete"):
            DispatchRule.objects.filter(pk=int(request.POST["delete"])).delete()
            messages.success(request, _("Rule deleted."))
            return redirect("governance:rules")
        if form.is_valid():
            form.save()
            messages.success(request, _("Rule saved."))
            return redirect("governance:rules")
    return render(
        request,
        "governance/rules.html",
        {
            "rules": DispatchRule.objects.select_related("category", "area", "department").order_by("order", "id"),
            "form": form,
            "editable": editable,
        },
    )


# --- supervision -------------------------------------------------------------------------------


@staff_required
def supervision(request):
    visible = case_inbox(user=request.user)
    now = timezone.now()
    overdue = visible.filter(status__in=OPEN_STATUSES, sla_paused_at__isnull=True, due_at__lte=now).order_by("due_at")
    warning = visible.filter(
        status__in=OPEN_STATUSES, sla_paused_at__isnull=True, due_at__gt=now, warned_at__isnull=False
    ).order_by("due_at")
    orders = (
        SupervisionOrder.objects.filter(case__in=visible.values("pk"))
        .exclude(status=SupervisionOrder.Status.ANSWERED)
        .select_related("case", "department")
        .order_by("due_at")
    )
    return render(
        request,
        "governance/supervision.html",
        {"overdue": overdue[:100], "warning": warning[:100], "orders": orders[:100], "now": now},
    )


# --- efficiency --------------------------------------------------------------------------------


def _period(request) -> tuple[datetime, datetime]:
    today = timezone.localdate()
    start = parse_date(request.GET.get("start") or "") or (today - timedelta(days=30))
    end = parse_date(request.GET.get("end") or "") or (today + timedelta(days=1))
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tz), datetime.combine(end, time.min, tz)


@staff_required
def efficiency(request):
    start, end = _period(request)
    rows = efficiency_by_department(start=start, end=end)
    return render(
        request,
        "governance/efficiency.html",
        {
            "rows": rows,
            "start": start.date(),
            "end": end.date(),
            "chart": json.dumps(
                {
                    "names": [r["department"] for r in rows],
                    "score": [r["score"] for r in rows],
                    "on_time": [round((r["on_time_rate"] or 0) * 100, 1) for r in rows],
                    "received": [r["received"] for r in rows],
                },
                ensure_ascii=False,
            ),
        },
    )


@staff_required
def efficiency_export(request):
    start, end = _period(request)
    rows = efficiency_by_department(start=start, end=end)
    resp = HttpResponse(content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="efficiency-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    resp.write("\ufeff")  # BOM: Excel opens UTF-8 Chinese correctly
    writer = csv.DictWriter(resp, fieldnames=EFFICIENCY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return resp


# --- map ---------------------------------------------------------------------------------------


@staff_required
def case_map(request):
    level = request.GET.get("level", "district")
    if level not in ("district", "street", "grid"):
        level = "district"
    counts = open_cases_by_area(level=level)
    features = [
        {
            "type": "Feature",
            "geometry": a["geometry"],
            "properties": {"id": a["id"], "name": a["name"], "open": counts.get(a["id"], 0)},
        }
        for a in facade.area_geometries(level=level)
    ]
    return render(
        request,
        "governance/map.html",
        {
            "level": level,
            "geojson": json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
            "max": max(counts.values(), default=0),
        },
    )
