"""The analysis capability's setup hook, called from DatahubConfig.ready(): tasks and navigation."""


def setup() -> None:
    from django.utils.translation import gettext_lazy as _

    from cityos.navigation import NavItem, register
    from cityos.roles import STAFF_ROLES

    from . import admin, tasks  # noqa: F401 - registers the admin pages and the Celery tasks

    section = _("Analysis")
    staff = frozenset(STAFF_ROLES)
    register(NavItem("analysis-cockpit", _("Operations cockpit"), "cockpit", section, roles=staff))
    register(NavItem("analysis-trends", _("Trends"), "analysis:trends", section, roles=staff))
    register(NavItem("analysis-hotspots", _("Hotspots"), "analysis:hotspots", section, roles=staff))
    register(NavItem("analysis-situations", _("Situations"), "analysis:situations", section, roles=staff))
    register(NavItem("analysis-briefings", _("Daily briefings"), "analysis:briefings", section, roles=staff))
    register(NavItem("analysis-efficiency", _("Efficiency"), "analysis:efficiency", section, roles=staff))
