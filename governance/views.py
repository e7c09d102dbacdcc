"""Pages of the governance app: parse, call a selector or service, render."""

import csv
import json
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.access import public_page, staff_required
from datahub import facade
from governance import permissions
from governance.filtersets import CaseFilter
from governance.forms import DispatchRuleForm, IntakeForm, KnowledgeArticleForm
from governance.models import OPEN_STATUSES, Case, Category, DispatchRule, KnowledgeArticle, Status, SupervisionOrder
from governance.pagination import CappedPaginator, capped_count
from governance.selectors.cases import case_citizen_path, case_duplicates, case_for_citizen, case_inbox, sla_state
from governance.selectors.efficiency import EFFICIENCY_COLUMNS, efficiency_by_department, open_cases_by_area
from governance.selectors.intake import caller_history, intake_suggest, intake_today
from governance.services.cases import (
    SERVICE_ONLY_ACTIONS,
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
from governance.services.knowledge import case_answer_directly, kb_article_save, kb_search
from governance.services.privacy import case_reporter_unmask, reporter_for
from governance.services.supervision import supervision_answer, supervision_issue
from governance.throttles import track_allowed

# --- intake ------------------------------------------------------------------------------------


def _hotline_desk(user) -> bool:
    """The intake desk is the hotline's: dispatch centre staff and city-wide dispatchers."""
    return permissions.is_dispatcher(user)


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) <= 180 else None  # not NaN, in range


@staff_required
def intake(request):
    """The 12345 intake desk: the caller's history, a map picker and address search, suggested
    category and department, likely duplicates, and knowledge-base answers to close a call on the spot."""
    form = IntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        common = {
            "title": d["title"],
            "description": d["description"],
            "category_id": d["category"].id if d["category"] else None,
            "lon": d["lon"],
            "lat": d["lat"],
            "address": d["address"],
            "reporter_name": d["reporter_name"],
            "reporter_phone": d["reporter_phone"],
            "actor": request.user,
        }
        try:
            with transaction.atomic():
                if request.POST.get("mode") == "answer":
                    if not d["article"]:
                        raise CaseError("article: choose the answer told to the caller", code="missing_article")
                    case = case_answer_directly(article_id=d["article"].id, **common)
                    note = _("Case %(number)s answered directly and closed.")
                else:
                    case = case_create(
                        channel="hotline", priority=d["priority"], auto_dispatch=not d["department"], **common
                    )
                    if d["department"] and case.status == Status.RECEIVED:
                        case = case_transition(
                            case_id=case.id,
                            action="dispatch",
                            actor=request.user,
                            department_id=d["department"],
                            note=_("Department chosen at intake"),
                        )
                    note = _("Case %(number)s received.")
        except CaseError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(request, note % {"number": case.tracking_number})
            if request.POST.get("mode") == "answer":
                return redirect("governance:intake")
            return redirect("governance:case", pk=case.pk)
    return render(
        request,
        "governance/intake.html",
        {
            "form": form,
            "today": intake_today(user=request.user),
        },
    )


@staff_required
def intake_suggest_view(request):
    """The desk's suggestions for the call so far (HTML fragment the page swaps in)."""
    text = f"{request.GET.get('title', '')} {request.GET.get('description', '')}".strip()[:2000]
    lon, lat = _float(request.GET.get("lon")), _float(request.GET.get("lat"))
    if lon is None or lat is None:
        lon = lat = None
    phone = (request.GET.get("reporter_phone") or "").strip()[:32]
    suggestion = intake_suggest(
        user=request.user, text=text, lon=lon, lat=lat, address=(request.GET.get("address") or "")[:300]
    )
    return render(
        request,
        "governance/_intake_suggest.html",
        {"s": suggestion, "history": caller_history(user=request.user, phone=phone), "phone": phone, "text": text},
    )


@staff_required
def intake_places(request):
    """Address search for the desk's map: the city's own addresses, areas and places (JSON)."""
    from django.http import JsonResponse

    from cityos.i18n import local_name

    places = facade.place_search(query=request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "label": local_name(p) + (f" ({local_name(p, 'area')})" if p.get("area") else ""),
                    "kind": p["kind"],
                    "lon": p["lon"],
                    "lat": p["lat"],
                }
                for p in places
            ]
        }
    )


@staff_required
def knowledge(request):
    """The hotline's knowledge base: searchable by everyone on staff, edited by hotline staff."""
    editable = _hotline_desk(request.user)
    article = None
    if request.GET.get("edit", "").isdigit():
        article = get_object_or_404(KnowledgeArticle, pk=int(request.GET["edit"]))
    form = KnowledgeArticleForm(request.POST or None, instance=article)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if form.is_valid():
            try:
                kb_article_save(article=form.save(commit=False), actor=request.user)
            except CaseError as exc:
                form.add_error(None, str(exc.detail))
            else:
                messages.success(request, _("Article saved."))
                return redirect("governance:knowledge")
    q = (request.GET.get("q") or "").strip()[:200]
    if q:
        hits = kb_search(text=q, limit=50)
        articles = sorted(
            KnowledgeArticle.objects.filter(pk__in=[h.id for h in hits]), key=lambda a: [h.id for h in hits].index(a.id)
        )
        if not articles:
            articles = list(
                KnowledgeArticle.objects.filter(
                    Q(question__icontains=q) | Q(answer__icontains=q) | Q(keywords__icontains=q)
                )[:50]
            )
    else:
        articles = list(KnowledgeArticle.objects.select_related("category")[:200])
    return render(
        request,
        "governance/knowledge.html",
        {"articles": articles, "form": form, "editable": editable, "q": q, "editing": article},
    )


# --- public ------------------------------------------------------------------------------------


def _citizen_factors(data) -> dict:
    return {"key": (data.get("k") or "").strip(), "phone_last4": (data.get("p") or "").strip()}


@public_page
def track(request):
    """Public: follow a case by its tracking number and the link's key or the last 4 digits of
    the phone given at intake (no login; no private data shown). The number alone shows nothing."""
    number = (request.GET.get("n") or "").strip()
    factors = _citizen_factors(request.GET)
    case, status, problem = None, 200, ""
    if number and not track_allowed(request):
        status, problem = 429, _("Too many attempts. Please wait a minute and try again.")
    elif number and (factors["key"] or factors["phone_last4"]):
        case = case_for_citizen(number=number, **factors)
        if case is None:
            problem = _("No case matches this tracking number and phone digits (or link).")
    elif number:
        problem = _("Enter the last 4 digits of the phone number you gave when you reported the case.")
    return render(
        request,
        "governance/track.html",
        {
            "number": number,
            "case": case,
            "problem": problem,
            "citizen_path": case_citizen_path(case) if case else "",
        },
        status=status,
    )


@public_page
@require_POST
def rate(request):
    number = (request.POST.get("n") or "").strip()
    if not track_allowed(request):
        messages.error(request, _("Too many attempts. Please wait a minute and try again."))
        return redirect(f"{_url('governance:track')}?{urlencode({'n': number})}")
    case = case_for_citizen(number=number, **_citizen_factors(request.POST))
    if case is None:
        messages.error(request, _("No case matches this tracking number and phone digits (or link)."))
        return redirect(f"{_url('governance:track')}?{urlencode({'n': number})}")
    try:
        rating = int(request.POST.get("rating", ""))
        case_rate(tracking_number=case.tracking_number, rating=rating, comment=request.POST.get("comment", ""))
    except ValueError:
        messages.error(request, _("Choose a rating from 1 to 5."))
    except CaseError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Thank you for your rating."))
    return redirect(case_citizen_path(case))


def _url(name, **kw):
    from django.urls import reverse

    return reverse(name, kwargs=kw or None)


# --- inbox -------------------------------------------------------------------------------------


@staff_required
def inbox(request):
    qs = case_inbox(user=request.user)
    params = request.GET.copy()
    if not any(k in params for k in ("status", "open", "q", "overdue", "department", "category", "triage")):
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
        if case_id not in visible or action not in TRANSITIONS or action in SERVICE_ONLY_ACTIONS:
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
def case_attachment(request, pk: int, attachment_pk: int):
    """An attachment, to those who may open its case (media files are not served publicly:
    attachments carry citizens' photos and documents)."""
    from django.http import FileResponse, Http404

    case = _visible_case(request, pk)
    att = case.attachments.filter(pk=attachment_pk).first()
    if att is None or not att.file:
        raise Http404
    try:
        handle = att.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, filename=att.name, content_type=att.content_type or "application/octet-stream")


@staff_required
def case_detail(request, pk: int):
    return _case_page(request, _visible_case(request, pk))


def _case_page(request, case, reporter: dict | None = None):
    return render(
        request,
        "governance/case.html",
        {
            "case": case,
            "reporter": reporter or reporter_for(user=request.user, case=case),
            "sla": sla_state(case),
            "actions": allowed_actions(case=case, user=request.user),
            "departments": facade.department_list(),
            "categories": Category.objects.filter(is_active=True).order_by("code"),
            "duplicates": case_duplicates(case=case)[:10],
            "is_dispatcher": permissions.is_dispatcher(request.user),
            "can_handle": permissions.can_handle(request.user, case),
            # The private link to send the citizen (SMS): for those who handle the case.
            "citizen_path": case_citizen_path(case)
            if permissions.is_dispatcher(request.user) or permissions.can_handle(request.user, case)
            else "",
            "point": json.dumps([case.location.y, case.location.x]) if case.location else "null",
        },
    )


@staff_required
@require_POST
def case_reporter(request, pk: int):
    """Unmask the reporter's contact details on the page (logged, with the reason given)."""
    case = _visible_case(request, pk)
    try:
        reporter = case_reporter_unmask(
            case_id=case.id,
            user=request.user,
            reason=request.POST.get("reason", ""),
            channel="page",
            ip=request.META.get("REMOTE_ADDR"),
        )
    except CaseError:
        messages.error(request, _("Say why you need the contact details; the request is logged."))
        return redirect("governance:case", pk=case.id)
    return _case_page(request, case, reporter)


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
    # Each list shows its first SUPERVISION_ROWS rows; its heading counts them all (exact up to
    # the inbox's cap, then "10000+"), and links to the full list when the rows are cut short.
    return render(
        request,
        "governance/supervision.html",
        {
            "overdue": overdue[:SUPERVISION_ROWS],
            "warning": warning[:SUPERVISION_ROWS],
            "orders": orders[:SUPERVISION_ROWS],
            "counts": {
                "overdue": capped_count(overdue),
                "warning": capped_count(warning),
                "orders": capped_count(orders),
            },
            "rows_shown": SUPERVISION_ROWS,
            "now": now,
        },
    )


SUPERVISION_ROWS = 100


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
