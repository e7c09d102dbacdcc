"""Pages of the governance app: parse, call a selector or service, render."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from governance.models import Case


def track(request):
    """Public: follow a case by its tracking number (no login; no private data shown)."""
    number = (request.GET.get("n") or "").strip()
    case = None
    if number:
        case = Case.objects.select_related("category", "department").filter(tracking_number=number).first()
    return render(
        request,
        "governance/track.html",
        {"number": number, "case": case, "not_found": bool(number and case is None), "title": _("Follow a case")},
    )
