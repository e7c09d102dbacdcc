"""Citizens (accounts made on the public portal) never reach staff pages or staff APIs.

Staff views check only `login_required` in places; rather than trust every one of them to exclude
the citizen role, this one middleware keeps a signed-in citizen inside the portal's paths.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse

from .roles import Role

CITIZEN_PATHS = ("/portal/", "/api/v1/livelihood/", "/i18n/", "/logout/", "/static/", "/media/", "/health/")


class CitizenBoundaryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "role", None) == Role.CITIZEN
            and not user.is_superuser
            and not request.path.startswith(CITIZEN_PATHS)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"code": "permission_denied", "message": "citizen accounts use the portal API only"}},
                    status=403,
                )
            if request.path == "/":  # the landing page adapts to the user: a citizen's is the portal
                return HttpResponseRedirect("/portal/")
            # Every other page answers as for any non-staff role (cityos.access): 403.
            raise PermissionDenied
        return self.get_response(request)
