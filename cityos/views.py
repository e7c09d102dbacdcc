from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render
from django.utils.translation import gettext as _

from datahub.models import Area, Department, Event, Source

from .roles import Role


@login_required
def home(request):
    """The city operations dashboard home: key counts and a live event feed."""
    user = request.user
    stats = [
        {"label": _("Departments"), "value": Department.objects.count()},
        {"label": _("Areas"), "value": Area.objects.count()},
        {"label": _("Data sources"), "value": Source.objects.count()},
        {"label": _("Events today"), "value": Event.objects.filter(occurred_at__date=_today()).count()},
    ]
    areas_by_level = list(Area.objects.values("level").annotate(n=Count("id")).order_by("level"))
    return render(
        request,
        "cityos/home.html",
        {
            "stats": stats,
            "areas_by_level": areas_by_level,
            "role_label": Role(user.role).label if user.role in Role.values else user.role,
            "recent_events": Event.objects.select_related("area").order_by("-occurred_at")[:10],
        },
    )


def _today():
    from django.utils import timezone

    return timezone.localdate()
