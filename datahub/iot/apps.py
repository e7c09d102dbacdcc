"""The IoT capability's setup hook, called from DatahubConfig.ready(): navigation and the HTTP
ingest's datastream cache."""

from django.utils.translation import gettext_lazy as _


def setup() -> None:
    from django.db.models.signals import post_delete, post_save

    from cityos.navigation import NavItem, register
    from cityos.roles import Role
    from datahub.core.models import Entity
    from datahub.core.selectors.entities import entity_type_scope_register
    from datahub.iot.models import Datastream, Device
    from datahub.iot.selectors import device_manage_condition, device_visible_condition
    from datahub.iot.services.ingest import shared_resolver_reset

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
    # Cache invalidation only: the HTTP ingest's datastream lookup (valid ranges, active devices).
    for signal in (post_save, post_delete):
        for model in (Device, Datastream):
            signal.connect(shared_resolver_reset, sender=model, dispatch_uid=f"resolver-{model.__name__}-{signal}")
    # Device entities are seen and changed exactly where their devices are.
    entity_type_scope_register(
        Entity.Type.DEVICE, relation="device", visible=device_visible_condition, manage=device_manage_condition
    )
