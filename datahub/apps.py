from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatahubConfig(AppConfig):
    name = "datahub"
    verbose_name = _("Datahub")

    def ready(self):
        from cityos.navigation import NavItem, register

        register(NavItem(key="datahub-areas", label=_("Areas"), url_name="datahub:area-browser", section=_("Data")))
        register(
            NavItem(key="datahub-entities", label=_("Entities"), url_name="datahub:entity-list", section=_("Data"))
        )
        register(NavItem("datasets", _("Dataset catalogue"), "datahub:dataset-catalogue", _("Data")))
        register(NavItem("iot-map", _("Device map"), "datahub:iot-map", _("IoT")))
        register(NavItem("iot-datastreams", _("Datastreams"), "datahub:iot-datastreams", _("IoT")))
        register(NavItem("iot-monitor", _("Ingest monitor"), "datahub:iot-monitor", _("IoT")))
