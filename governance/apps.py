from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Municipal governance")

    def ready(self):
        from cityos import bus
        from cityos.navigation import NavItem, register
        from cityos.roles import Role

        bus.subscribe("monitoring.alert_raised", "governance.subscribers.on_alert_raised")
        from datahub import facade

        from .subscribers import alert_case_categories

        facade.alert_case_categories_register(alert_case_categories)
        # Cases opened from an alert report back to it when they close (matched on the structured origin).
        bus.subscribe("governance.case_closed", "datahub.facade.origin_case_closed")
        bus.subscribe("datahub.document_flagged", "governance.subscribers.on_document_flagged")
        bus.subscribe("case.requested", "governance.subscribers.on_case_requested")

        from governance import labels, search

        search.register()
        labels.register()
        section = _("Governance")
        register(NavItem("gov-inbox", _("Case inbox"), "governance:inbox", section))
        register(NavItem("gov-intake", _("Hotline intake"), "governance:intake", section))
        register(NavItem("gov-supervision", _("Supervision"), "governance:supervision", section))
        register(NavItem("gov-efficiency", _("Efficiency"), "governance:efficiency", section))
        register(NavItem("gov-map", _("Case map"), "governance:map", section))
        register(NavItem("gov-rules", _("Dispatch rules"), "governance:rules", section))
        register(NavItem("gov-knowledge", _("Knowledge base"), "governance:knowledge", section))
        register(NavItem("gov-patrol", _("Patrol"), "governance:patrol", section, roles=frozenset({Role.GRID_WORKER})))
        from cityos.navigation import register_dispatcher_check

        from .permissions import is_dispatcher

        # The shell shows a dispatch centre's officers the hotline operator's home and menu.
        register_dispatcher_check(is_dispatcher)
