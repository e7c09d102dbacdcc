from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from datahub.core.selectors.events import events_visible_to

from .access import public_page
from .feed import event_line
from .labels import labels_for
from .roles import Role, is_staff_role


@public_page
@login_required
def home(request):
    """Each staff role's home answers "what needs me now" (cityos.home, one per persona) beside
    the live event feed; users without a staff role (external developers) get a page that points
    them to the API."""
    user = request.user
    role_label = Role(user.role).label if user.role in Role.values else user.role
    if not is_staff_role(user):
        return render(request, "cityos/home_external.html", {"role_label": role_label})
    from .home import home_for

    home = home_for(user)
    events = events_visible_to(user)
    return render(
        request,
        home["template"],
        {
            "home": home,
            "role_label": role_label,
            "recent_events": [
                {"at": e.occurred_at, **event_line(e)}
                for e in events.select_related("area").order_by("-occurred_at")[:10]
            ],
            "event_labels": labels_for("event"),
        },
    )


# --- error pages -------------------------------------------------------------------------------
# Pages get the project's own templates (templates/404.html, 500.html…, in the shell, both
# languages); the API answers in its JSON error format instead, also for paths no route matches.


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _api_error(status: int, code: str, message: str):
    from django.http import JsonResponse

    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def page_not_found(request, exception=None):
    from django.views import defaults

    if _is_api(request):
        return _api_error(404, "not_found", f"path: no API operation at {request.path}")
    return defaults.page_not_found(request, exception)


def server_error(request):
    from django.views import defaults

    if _is_api(request):
        return _api_error(500, "server_error", "The server could not complete the request; it has been recorded.")
    return defaults.server_error(request)
