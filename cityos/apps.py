from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CityosConfig(AppConfig):
    name = "cityos"
    verbose_name = _("People and access")

    def ready(self):
        from .navigation import NavItem, register
        from .roles import Role
        from .webhooks import sources

        sources.setup()  # event subscriptions of external applications hear the domain events

        register(NavItem("home", _("Dashboard"), "home", _("Overview")))
        register(
            NavItem("developers", _("Developer portal"), "developers:index", _("Open platform"), roles=frozenset(Role))
        )
        register(NavItem("api-docs", _("API documentation"), "api-docs", _("Open platform"), roles=frozenset(Role)))
        register(NavItem("admin", _("Administration"), "admin:index", _("System"), roles=frozenset({"administrator"})))
