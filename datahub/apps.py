from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatahubConfig(AppConfig):
    name = "datahub"
    verbose_name = _("Datahub")

    def ready(self):
        from cityos import bus
        from cityos.navigation import NavItem, register

        # Monitoring: event-count rules react to recorded events; closed cases clear their alerts.
        bus.subscribe("datahub.event_recorded", "datahub.services.monitoring.evaluate.on_event_recorded")
        bus.subscribe("governance.case_closed", "datahub.services.monitoring.cases.on_case_closed")
        section = _("Monitoring")
        register(NavItem("alerts", _("Alert console"), "monitoring:console", section))
        register(NavItem("alert-rules", _("Alert rules"), "monitoring:rules", section))
        register(NavItem("alert-prefs", _("Notification preferences"), "monitoring:preferences", section))
