"""The monitoring capability's setup hook, called from DatahubConfig.ready(): bus subscriptions,
the ingest listener, the preview's series reader and navigation."""

from django.utils.translation import gettext_lazy as _


def setup() -> None:
    from cityos import bus
    from cityos.navigation import NavItem, register
    from datahub.iot.services.ingest import observations_batch_listen
    from datahub.monitoring.selectors import MANAGE_ROLES
    from datahub.monitoring.services.observations import on_ingest_batch_listener, read_series
    from datahub.monitoring.services.preview import register_series_reader

    # Event-count rules react to recorded events. (Closed cases that came from an alert reach
    # `facade.origin_case_closed`, subscribed by the app that handles cases.)
    bus.subscribe("datahub.event_recorded", "datahub.monitoring.services.evaluate.on_event_recorded")
    # Rules are evaluated on the ingest path (each committed batch); previews replay the observation store.
    observations_batch_listen(on_ingest_batch_listener)
    register_series_reader(read_series)
    section = _("Monitoring")
    register(NavItem("alerts", _("Alert console"), "monitoring:console", section))
    register(NavItem("alert-rules", _("Alert rules"), "monitoring:rules", section))
    register(NavItem("alert-escalation", _("Escalation chains"), "monitoring:escalation", section))
    register(NavItem("alert-webhooks", _("Webhooks"), "monitoring:webhooks", section, roles=MANAGE_ROLES))
    register(NavItem("alert-prefs", _("Notification preferences"), "monitoring:preferences", section))
