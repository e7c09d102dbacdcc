"""Pages under /analysis/ (trends explorer, hotspots, situations inbox, briefings archive,
efficiency) and the operations cockpit at /cockpit/. Views parse, authorise, call, render."""

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cityos.access import staff_required
from datahub.models import Briefing

from .services import briefing as briefing_service


@staff_required
@require_http_methods(["GET", "POST"])
def briefings(request):
    if request.method == "POST":
        try:
            day = date.fromisoformat(request.POST.get("day", ""))
        except ValueError:
            messages.error(request, _("Give a valid day."))
            return redirect("analysis:briefings")
        if not date(2000, 1, 1) <= day <= date(2100, 1, 1):
            messages.error(request, _("Give a valid day."))
            return redirect("analysis:briefings")
        b = briefing_service.briefing_request(day=day)
        return redirect("analysis:briefing", pk=b.id)
    page = Paginator(Briefing.objects.order_by("-day"), 30).get_page(request.GET.get("page"))
    return render(request, "analysis/briefings.html", {"page_obj": page})


@staff_required
def briefing_detail(request, pk: int):
    b = get_object_or_404(Briefing, pk=pk)
    return render(request, "analysis/briefing.html", {"briefing": b, "c": b.content})


@staff_required
def briefing_pdf(request, pk: int):
    b = get_object_or_404(Briefing, pk=pk, status=Briefing.Status.READY)
    language = request.GET.get("lang") or get_language() or "zh-hans"
    if language not in ("zh-hans", "en"):
        language = "zh-hans"
    pdf = briefing_service.render_pdf(b, language=language)
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="briefing-{b.day:%Y-%m-%d}-{language}.pdf"'
    return resp


@staff_required
def cockpit(request):
    labels = {
        "cases": _("Cases"),
        "alerts": _("Alerts"),
        "events": {
            "analysis.situation_detected": _("Situation"),
            "alert.raised": _("Alert raised"),
            "alert.changed": _("Alert changed"),
            "governance.case_updated": _("Case updated"),
        },
    }
    return render(request, "analysis/cockpit.html", {"labels": labels})


def _types(user):
    from . import selectors

    return selectors.event_types(user=user, limit=50)


@staff_required
def trends_page(request):
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    return render(
        request,
        "analysis/trends.html",
        {"types": _types(request.user), "default_from": today - timedelta(days=89), "default_to": today},
    )


@staff_required
def hotspots_page(request):
    from django.utils import timezone

    return render(
        request, "analysis/hotspots.html", {"types": _types(request.user), "default_to": timezone.localdate()}
    )


@staff_required
def situations_page(request):
    from datahub.models import Situation

    status = request.GET.get("status", "open")
    if status not in Situation.Status.values:
        status = "open"
    qs = Situation.objects.filter(status=status).select_related("area").order_by("-window_start", "-id")
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "analysis/situations.html",
        {"page_obj": page, "status": status, "statuses": Situation.Status.choices},
    )


@staff_required
@require_http_methods(["POST"])
def situation_verdict(request, pk: int):
    from .services import situations

    try:
        situations.situation_judge(
            situation_id=pk,
            verdict=request.POST.get("verdict", ""),
            user=request.user,
            note=request.POST.get("note", ""),
        )
        messages.success(request, _("Verdict recorded."))
    except situations.VerdictError as exc:
        messages.error(request, str(exc))
    return redirect("analysis:situations")


@staff_required
def efficiency_page(request):
    from datetime import timedelta

    from django.utils import timezone

    from .services import efficiency

    today = timezone.localdate()
    try:
        until = date.fromisoformat(request.GET.get("to", "")) if request.GET.get("to") else today
        since = (
            date.fromisoformat(request.GET.get("from", "")) if request.GET.get("from") else today - timedelta(days=29)
        )
    except ValueError:
        until, since = today, today - timedelta(days=29)
    if not (date(2000, 1, 1) <= since <= until <= date(2100, 1, 1)) or (until - since).days > 366:
        until, since = today, today - timedelta(days=29)
    from .serializers import city_midnight

    rows = efficiency.efficiency_with_trend(since=city_midnight(since), until=city_midnight(until + timedelta(days=1)))
    return render(request, "analysis/efficiency.html", {"rows": rows, "since": since, "until": until})


@staff_required
def index(request):
    return redirect("analysis:trends")
