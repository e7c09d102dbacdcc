"""The roles a CityOS user can hold, and what each may see by default."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITY_LEADER = "city_leader", _("City leader")
    DEPARTMENT_OFFICER = "department_officer", _("Department officer")
    GRID_WORKER = "grid_worker", _("Grid worker")
    ANALYST = "analyst", _("Analyst")
    ADMINISTRATOR = "administrator", _("Administrator")
    EXTERNAL_DEVELOPER = "external_developer", _("External developer")
    # A person acting for one or more enterprises (industry.EnterpriseMember links them): sees its
    # own enterprises' profiles, the policies for them, and submits appeals. Never city data.
    ENTERPRISE_USER = "enterprise_user", _("Enterprise user")
    # A resident using the public portal (livelihood): their own requests, appointments and ratings.
    CITIZEN = "citizen", _("Citizen")


# Roles that see data of every department (city-wide views). The others are scoped to their
# own department and its sub-departments.
CITY_WIDE_ROLES = frozenset({Role.CITY_LEADER, Role.ANALYST, Role.ADMINISTRATOR})
# Roles that use the internal web dashboards (external developers use the API only; enterprise
# users see only the industry pages of their own enterprises; citizens only the portal).
STAFF_ROLES = frozenset(set(Role) - {Role.EXTERNAL_DEVELOPER, Role.ENTERPRISE_USER, Role.CITIZEN})


def is_staff_role(user) -> bool:
    """Does this user work for the city (staff pages, staff live events, assignable)?

    Role-based, not a list of the outsiders: external developers today, citizens and enterprise
    users later, are all "not staff" unless their role is added to STAFF_ROLES.
    """
    return bool(
        user is not None and user.is_authenticated and user.is_active and (user.is_superuser or user.role in STAFF_ROLES)
    )


def staff_users(queryset=None):
    """Active users with a staff role: the only people offered as assignees or recipients."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    qs = get_user_model().objects.all() if queryset is None else queryset
    return qs.filter(Q(role__in=[r.value for r in STAFF_ROLES]) | Q(is_superuser=True), is_active=True)
