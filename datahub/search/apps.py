"""The search capability's setup hook, called from DatahubConfig.ready()."""

from django.utils.translation import gettext_lazy as _


def setup() -> None:
    from django.db.models.signals import post_delete, post_save

    from cityos import bus
    from cityos.navigation import NavItem, register

    from ..models import Area, Dataset, Department, SearchSynonym
    from . import providers, selectors, services

    register(NavItem("search", _("Search"), "search:page", _("Data")))
    for kind, fn, label, label_en in providers.providers():
        services.provider_register(kind=kind, provider=fn, label=label, label_en=label_en)

    # Index maintenance (derived data, like a cache): a saved row of the datahub's own searchable
    # models is re-indexed after its transaction commits, a deleted one removed.
    def _saved(sender, instance, raw=False, created=False, update_fields=None, **_kw):
        if raw:
            return
        providers.push_instance(sender, instance.pk)
        # A dataset's records carry its title, level and owner: they follow a change of those.
        if sender is Dataset and not created and (update_fields is None or RECORD_FIELDS & set(update_fields)):
            _after_commit(lambda: providers.records_reindex(instance.pk))

    def _deleted(sender, instance, **_kw):
        for kind in _kinds_of(sender, instance):
            services.search_index_remove(kind=kind, keys=[str(instance.pk)])
        if sender is Dataset:
            providers.records_remove(instance.slug)

    # Records arrive in bulk (an import's version): the committed import's domain event re-indexes them.
    bus.subscribe("datahub.dataset_updated", "datahub.search.providers.on_dataset_updated")

    for model in providers.ITEMS_OF_MODEL:
        post_save.connect(_saved, sender=model, weak=False, dispatch_uid=f"search-save-{model.__name__}")
        post_delete.connect(_deleted, sender=model, weak=False, dispatch_uid=f"search-delete-{model.__name__}")
    for model in (Area, Department):
        for signal in (post_save, post_delete):
            signal.connect(
                services.refs_reset, sender=model, weak=False, dispatch_uid=f"search-refs-{model.__name__}-{signal}"
            )
    for signal in (post_save, post_delete):
        signal.connect(selectors.synonyms_reset, sender=SearchSynonym, weak=False, dispatch_uid=f"search-syn-{signal}")


RECORD_FIELDS = {"title", "level", "owner_department", "owner_department_id", "slug"}


def _after_commit(fn) -> None:
    from django.db import connection, transaction

    transaction.on_commit(fn) if connection.in_atomic_block else fn()


def _kinds_of(model, instance) -> list[str]:
    from ..models import Entity
    from .providers import ENTITY_KIND, PLACE_TYPES

    if model is Entity:
        t = instance.type
        return [ENTITY_KIND.get(t) or ("place" if t in PLACE_TYPES else "entity")]
    return {
        "Area": ["area"],
        "Dataset": ["dataset"],
        "Device": ["device"],
        "Document": ["document"],
        "Alert": ["alert"],
    }[model.__name__]
