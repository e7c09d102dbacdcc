from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LivelihoodConfig(AppConfig):
    name = "livelihood"
    verbose_name = _("Livelihood services")

    def ready(self):
        from cityos import bus
        from cityos.navigation import NavItem, register

        bus.subscribe("governance.case_created", "livelihood.subscribers.on_case_created")
        bus.subscribe("governance.case_updated", "livelihood.subscribers.on_case_updated")
        bus.subscribe("governance.case_closed", "livelihood.subscribers.on_case_closed")
        bus.subscribe("governance.calendar_changed", "livelihood.subscribers.on_calendar_changed")
        # Public services, life events and notices in the one search index (facilities are there
        # already as datahub entities of type facility).
        from datahub import facade

        from . import search
        from .models import LifeEvent, Notice, Service

        for kind, label, label_en, model in (
            ("livelihood_service", "办事指南", "Public service", Service),
            ("livelihood_life_event", "一件事", "Life event", LifeEvent),
            ("livelihood_notice", "公告", "Notice", Notice),
        ):
            facade.search_provider_register(
                kind,
                lambda kind=kind: search.search_items({kind: None}),
                label=label,
                label_en=label_en,
                model=model,  # fresh on every save and delete
                items=lambda ids, kind=kind: search.search_items({kind: ids}),
            )
        section = _("Livelihood")
        register(NavItem("liv-services", _("Service guide"), "livelihood:services", section))
        register(NavItem("liv-facilities", _("Facilities"), "livelihood:facilities", section))
        register(NavItem("liv-appointments", _("Appointments"), "livelihood:appointments", section))
        register(NavItem("liv-notices", _("Notices"), "livelihood:notices", section))
        register(NavItem("liv-ratings", _("Ratings"), "livelihood:ratings", section))
        register(NavItem("liv-portal", _("Citizen portal"), "portal:home", section))
