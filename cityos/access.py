"""Staff pages: one rule for every page of the internal dashboards.

Every page (a non-API view) is for staff roles (cityos.roles.STAFF_ROLES) unless its view is
marked `@public_page` (citizen tracking, the landing page that adapts to the user) or belongs to
Django's own login, logout, language and admin views. `StaffPagesMiddleware` applies the rule
before any view runs, so a page added later is protected without remembering a decorator:
a signed-in user without a staff role (external developers today, citizens and enterprise
users later) gets 403; anonymous visitors are left to the view's own `login_required`.
The REST API (DRF views) and Open311 have their own per-resource rules.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .roles import is_staff_role

# Views of these modules are not staff pages: sign-in and out, language switch, Django admin
# (which has its own is_staff check), media files, the API schema and docs.
EXEMPT_VIEW_MODULES = (
    "django.contrib.auth.views",
    "django.contrib.admin.",
    "django.views.i18n",
    "django.views.static",
    "drf_spectacular.",
)


# Non-staff roles with pages of their own: views of these modules decide themselves what such a
# user may see (industry: an enterprise user's own enterprises; the citizen portal: the citizen's
# own requests). Every other page stays closed to them.
ROLE_PAGE_MODULES = {
    "enterprise_user": ("industry.views",),
    "citizen": ("livelihood.portal",),
    # The developer portal shows a developer only their own organisations' applications.
    "external_developer": ("cityos.developers",),
}


def public_page(view):
    """Mark a page that users without a staff role may open (it must show them no staff data)."""
    view.cityos_public = True
    return view


def staff_required(view):
    """A page of the internal dashboards: anonymous visitors are sent to sign in, signed-in users
    without a staff role get 403 (the same rule as `StaffPagesMiddleware`, stated on the view)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not is_staff_role(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def is_staff_page(view_func) -> bool:
    if getattr(view_func, "cityos_public", False):
        return False
    if hasattr(view_func, "cls"):  # a DRF view: the API's own permissions decide
        return False
    view_class = getattr(view_func, "view_class", None)
    module = (view_class or view_func).__module__ or ""
    if module.startswith(EXEMPT_VIEW_MODULES) or getattr(view_func, "admin_site", None) is not None:
        return False
    # Open311, NGSI-LD and CKAN are APIs in plain views, each with its own access rules.
    return not (module.startswith(("governance.open311", "datahub.ngsild", "datahub.ckan")) or module == "cityos.health")


class StaffPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or is_staff_role(user):
            return None
        if is_staff_page(view_func) and not is_role_page(getattr(user, "role", ""), view_func):
            raise PermissionDenied
        return None


def is_role_page(role: str, view_func) -> bool:
    """Is this page one of the role's own (ROLE_PAGE_MODULES), whose view checks the rights itself?"""
    modules = ROLE_PAGE_MODULES.get(role)
    if not modules:
        return False
    return ((getattr(view_func, "view_class", None) or view_func).__module__ or "").startswith(modules)
