from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Municipal governance")

    def ready(self):
        from cityos import bus
        from cityos.navigation import NavItem, register

        bus.subscribe("monitoring.alert_raised", "governance.subscribers.on_alert_raised")
        bus.subscribe("datahub.document_flagged", "governance.subscribers.on_document_flagged")
        section = _("Governance")
        register(NavItem("gov-inbox", _("Case inbox"), "governance:inbox", section))
        register(NavItem("gov-intake", _("Hotline intake"), "governance:intake", section))
        register(NavItem("gov-supervision", _("Supervision"), "governance:supervision", section))
        register(NavItem("gov-efficiency", _("Efficiency"), "governance:efficiency", section))
        register(NavItem("gov-map", _("Case map"), "governance:map", section))
        register(NavItem("gov-rules", _("Dispatch rules"), "governance:rules", section))
