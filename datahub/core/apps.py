"""The core's setup hook, called from DatahubConfig.ready(): navigation and the gazetteer's cache."""

from django.utils.translation import gettext_lazy as _


def setup() -> None:
    from django.db.models.signals import post_delete, post_save

    from cityos.navigation import NavItem, register
    from datahub.core.models import Area
    from datahub.core.selectors import gazetteer

    register(NavItem(key="datahub-areas", label=_("Areas"), url_name="datahub:area-browser", section=_("Data")))
    register(NavItem(key="datahub-entities", label=_("Entities"), url_name="datahub:entity-list", section=_("Data")))
    # Cache invalidation only (no business logic): the gazetteer (area_match_text) is rebuilt after
    # any change to the areas, however the change was made (services, admin, demo, imports).
    for signal in (post_save, post_delete):
        signal.connect(lambda **_kw: gazetteer.bump(), sender=Area, weak=False, dispatch_uid=f"gazetteer-{signal}")
