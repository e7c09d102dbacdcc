"""The internet-text capability's setup hook, called from DatahubConfig.ready(): navigation, the
text pipeline's place and entity matchers' caches, and the entity page's section of the documents
that mention the entity."""

from django.utils.translation import gettext_lazy as _


def setup() -> None:
    from django.db.models.signals import post_delete, post_save

    from cityos.navigation import NavItem, register
    from datahub.core.entity_sections import EntitySection
    from datahub.core.entity_sections import register as register_section
    from datahub.core.models import Area, Entity
    from datahub.text.nlp import entities, places

    # Cache invalidation only (no business logic): the place and entity matchers are rebuilt after
    # any change to the tables they are built from, however the change was made.
    for signal in (post_save, post_delete):
        signal.connect(lambda **_kw: places.invalidate(), sender=Area, weak=False, dispatch_uid=f"places-{signal}")
        signal.connect(
            lambda **_kw: entities.invalidate(), sender=Entity, weak=False, dispatch_uid=f"entities-{signal}"
        )
    register(NavItem("opinion", _("Public opinion"), "datahub-opinion", _("Internet data")))
    register(NavItem("documents", _("Documents"), "datahub-documents", _("Internet data")))
    register(NavItem("text-sources", _("Internet sources"), "datahub-text-sources", _("Internet data")))
    # The entity page lists the posts and news the text pipeline linked to the entity.
    register_section(
        EntitySection(
            key="document-mentions",
            title=_("Internet mentions"),
            template_name="datahub/entity_document_mentions.html",
            context_function="datahub.text.selectors.entity_mentions_context",
            order=60,
        )
    )
