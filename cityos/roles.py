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


# Roles that see data of every department (city-wide views). The others are scoped to their
# own department and its sub-departments.
CITY_WIDE_ROLES = frozenset({Role.CITY_LEADER, Role.ANALYST, Role.ADMINISTRATOR})
# Roles that use the internal web dashboards (external developers use the API only).
STAFF_ROLES = frozenset(set(Role) - {Role.EXTERNAL_DEVELOPER})
