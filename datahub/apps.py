from django.apps import AppConfig
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

# One setup hook per capability folder, in this order (the order of the navigation): each registers
# its navigation, signals, bus subscriptions and listeners.
SETUP_HOOKS = [
    "datahub.core.apps.setup",
    "datahub.datasets.apps.setup",
    "datahub.iot.apps.setup",
    "datahub.text.apps.setup",
    "datahub.monitoring.apps.setup",
    "datahub.ngsild.setup",
    "datahub.search.apps.setup",
    "datahub.analysis.apps.setup",
]


class DatahubConfig(AppConfig):
    name = "datahub"
    verbose_name = _("Datahub")

    def ready(self):
        for hook in SETUP_HOOKS:
            import_string(hook)()
