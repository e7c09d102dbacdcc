from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndustryConfig(AppConfig):
    name = "industry"
    verbose_name = _("Industry development")

    def ready(self):
        from cityos import bus
        from cityos.navigation import NavItem, register
        from cityos.roles import STAFF_ROLES, Role

        bus.subscribe("governance.case_created", "industry.subscribers.on_case_created")
        bus.subscribe("governance.case_updated", "industry.subscribers.on_case_updated")
        bus.subscribe("governance.case_closed", "industry.subscribers.on_case_closed")
        # Policies in the one search index (`manage.py search_reindex policy`, and the demo's rebuild).
        # Enterprises are there already as datahub entities of type enterprise.
        from datahub import facade

        from . import search
        from .models import Policy

        facade.search_provider_register(
            "policy", search.policy_items, label="惠企政策", label_en="Policy", model=Policy, items=search.policy_items
        )
        section = _("Industry")
        everyone = frozenset(STAFF_ROLES | {Role.ENTERPRISE_USER})
        register(NavItem("ind-registry", _("Enterprises"), "industry:registry", section, roles=everyone))
        register(NavItem("ind-dashboard", _("Industry dashboard"), "industry:dashboard", section))
        register(NavItem("ind-parks", _("Industrial parks"), "industry:parks", section))
        register(NavItem("ind-chain", _("Industry chain"), "industry:chain", section))
        register(NavItem("ind-policies", _("Policies"), "industry:policies", section, roles=everyone))
        register(NavItem("ind-grants", _("Grant proposals"), "industry:grants", section))
        register(NavItem("ind-appeals", _("Enterprise appeals"), "industry:appeals", section, roles=everyone))
        register(NavItem("ind-risk", _("Risk warning"), "industry:risk", section))
