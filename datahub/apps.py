from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatahubConfig(AppConfig):
    name = "datahub"
    verbose_name = _("Datahub")

    def ready(self):
        from cityos.navigation import NavItem, register
        from cityos.roles import Role

        register(NavItem(key="datahub-areas", label=_("Areas"), url_name="datahub:area-browser", section=_("Data")))
        register(
            NavItem(key="datahub-entities", label=_("Entities"), url_name="datahub:entity-list", section=_("Data"))
        )
        register(NavItem("datasets", _("Dataset catalogue"), "datahub:dataset-catalogue", _("Data")))
        register(NavItem("iot-map", _("Device map"), "datahub:iot-map", _("IoT")))
        register(NavItem("iot-datastreams", _("Datastreams"), "datahub:iot-datastreams", _("IoT")))
        register(NavItem("iot-monitor", _("Ingest monitor"), "datahub:iot-monitor", _("IoT")))
        register(
            NavItem(
                "iot-imports",
                _("Series imports"),
                "datahub:iot-imports",
                _("IoT"),
                roles=frozenset({Role.ADMINISTRATOR, Role.DEPARTMENT_OFFICER}),
            )
        )
        from django.db.models.signals import post_delete, post_save

        from cityos.navigation import NavItem, register

        from .models import Area, Datastream, Device, Entity
        from .selectors import gazetteer
        from .services.iot_ingest import shared_resolver_reset
        from .services.text import entities, places

        # Cache invalidation only (no business logic): the gazetteer (area_match_text) and the
        # text pipeline's place and entity matchers are rebuilt after any change to the tables
        # they are built from, however the change was made (services, admin, demo, imports).
        for signal in (post_save, post_delete):
            signal.connect(lambda **_kw: places.invalidate(), sender=Area, weak=False, dispatch_uid=f"places-{signal}")
            signal.connect(lambda **_kw: gazetteer.bump(), sender=Area, weak=False, dispatch_uid=f"gazetteer-{signal}")
            signal.connect(
                lambda **_kw: entities.invalidate(), sender=Entity, weak=False, dispatch_uid=f"entities-{signal}"
            )
            # The HTTP ingest's datastream lookup (valid ranges, active devices).
            for model in (Device, Datastream):
                signal.connect(shared_resolver_reset, sender=model, dispatch_uid=f"resolver-{model.__name__}-{signal}")
        register(NavItem("opinion", _("Public opinion"), "datahub-opinion", _("Internet data")))
        register(NavItem("documents", _("Documents"), "datahub-documents", _("Internet data")))
        register(NavItem("text-sources", _("Internet sources"), "datahub-text-sources", _("Internet data")))
        from cityos import bus
        from cityos.navigation import NavItem, register

        # Monitoring: event-count rules react to recorded events; closed cases clear their alerts.
        bus.subscribe("datahub.event_recorded", "datahub.services.monitoring.evaluate.on_event_recorded")
        bus.subscribe("governance.case_closed", "datahub.services.monitoring.cases.on_case_closed")
        # Rules are evaluated on the ingest path (each committed batch) and previews replay the
        # observation store.
        from . import facade
        from .entity_sections import EntitySection
        from .entity_sections import register as register_section

        # The entity page lists the dataset rows entity resolution linked to the entity.
        register_section(
            EntitySection(
                key="dataset-records",
                title=_("Dataset records"),
                template_name="datahub/entity_dataset_records.html",
                context_function="datahub.selectors.datasets.entity_records_context",
                order=50,
            )
        )
        from .selectors.monitoring import MANAGE_ROLES
        from .services.monitoring.observations import on_ingest_batch_listener, read_series
        from .services.monitoring.preview import register_series_reader

        facade.observations_batch_listen(on_ingest_batch_listener)
        register_series_reader(read_series)
        section = _("Monitoring")
        register(NavItem("alerts", _("Alert console"), "monitoring:console", section))
        register(NavItem("alert-rules", _("Alert rules"), "monitoring:rules", section))
        register(NavItem("alert-escalation", _("Escalation chains"), "monitoring:escalation", section))
        register(
            NavItem(
                "alert-webhooks",
                _("Webhooks"),
                "monitoring:webhooks",
                section,
                roles=MANAGE_ROLES,
            )
        )
        register(NavItem("alert-prefs", _("Notification preferences"), "monitoring:preferences", section))
