"""The CityOS administration: branded, with the models grouped by capability (people and access,
places and registry, datasets, IoT, internet data, monitoring, cases, dispatch and deadlines,
industry, livelihood, scheduled jobs) instead of by Django app.

Grouping is by model name (`app_label.ModelName`), so it survives models moving between modules of
an app; a model not listed here stays in a group named after its app, so nothing disappears.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _

GROUPS: list[tuple[str, object, tuple[str, ...]]] = [
    (
        "people",
        _("People and access"),
        (
            "cityos.User",
            "auth.Group",
            "authtoken.TokenProxy",
            "datahub.Department",
        ),
    ),
    (
        "open-platform",
        _("Open platform"),
        (
            "cityos.DeveloperOrganisation",
            "cityos.ApiApplication",
            "cityos.ApiKey",
            "cityos.ApiPlan",
            "cityos.ApiUsage",
            "cityos.EventSubscription",
        ),
    ),
    (
        "places",
        _("Places, registry and sources"),
        (
            "datahub.Area",
            "datahub.Entity",
            "datahub.EntityIdentifier",
            "datahub.Source",
            "datahub.Run",
            "datahub.Event",
        ),
    ),
    (
        "datasets",
        _("Datasets"),
        (
            "datahub.Dataset",
            "datahub.DatasetImport",
            "datahub.DatasetField",
            "datahub.DatasetVersion",
            "datahub.DatasetRecord",
        ),
    ),
    (
        "iot",
        _("IoT devices and observations"),
        (
            "datahub.Device",
            "datahub.Datastream",
            "datahub.SeriesImport",
            "datahub.IngestBatch",
            "datahub.ObservationLatest",
            "datahub.ObservationRollup",
        ),
    ),
    (
        "text",
        _("Internet data and documents"),
        (
            "datahub.Document",
            "datahub.TopicRule",
            "datahub.TextModel",
            "datahub.FeedState",
        ),
    ),
    (
        "monitoring",
        _("Monitoring and alerts"),
        (
            "datahub.Alert",
            "datahub.AlertRule",
            "datahub.EscalationPolicy",
            "datahub.Notification",
            "datahub.NotificationPreference",
        ),
    ),
    ("analysis", _("Analysis"), ("datahub.Situation", "datahub.Briefing", "datahub.SignalWeight")),
    (
        "cases",
        _("Cases"),
        (
            "governance.Case",
            "governance.SupervisionOrder",
            "governance.CaseTransition",
            "governance.CaseAttachment",
            "governance.CategoryCorrection",
            "governance.PersonalDataAccess",
            "governance.TrackingCounter",
        ),
    ),
    (
        "dispatch",
        _("Dispatch, grids and deadlines"),
        (
            "governance.Category",
            "governance.DispatchRule",
            "governance.DispatchCentre",
            "governance.GridAssignment",
            "governance.SlaPolicy",
            "governance.CalendarDay",
            "governance.ClassifierRule",
            "governance.ClassifierModel",
        ),
    ),
    (
        "jobs",
        _("Scheduled jobs"),
        (
            "django_celery_beat.PeriodicTask",
            "django_celery_beat.CrontabSchedule",
            "django_celery_beat.IntervalSchedule",
            "django_celery_beat.ClockedSchedule",
            "django_celery_beat.SolarSchedule",
        ),
    ),
]
_GROUP_OF = {name: key for key, _label, names in GROUPS for name in names}
_ORDER = {name: i for _key, _label, names in GROUPS for i, name in enumerate(names)}


class CityOSAdminSite(admin.AdminSite):
    site_header = _("CityOS administration")
    site_title = _("CityOS")
    index_title = _("City data and configuration by capability")

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label:  # one app's own index page: Django's list
            return apps
        groups: dict[str, dict] = {}
        labels = {key: label for key, label, _names in GROUPS}
        for app in apps:
            for model in app["models"]:
                name = _name(model)
                key = _GROUP_OF.get(name, app["app_label"])
                group = groups.setdefault(
                    key,
                    {
                        "name": labels.get(key, app["name"]),
                        "app_label": app["app_label"],
                        "app_url": app["app_url"],
                        "has_module_perms": app["has_module_perms"],
                        "models": [],
                        "capability": key,
                    },
                )
                group["models"].append(model)
        order = [key for key, _label, _names in GROUPS]
        out = sorted(
            groups.values(),
            key=lambda g: (order.index(g["capability"]) if g["capability"] in order else len(order), str(g["name"])),
        )
        for g in out:
            g["models"].sort(key=lambda m: (_ORDER.get(_name(m), 999), str(m["name"])))
            if len({m["model"]._meta.app_label for m in g["models"]}) > 1:
                g["app_url"] = "#"  # a group of several apps has no single app page to link to
        return out


def _name(model_dict) -> str:
    return f"{model_dict['model']._meta.app_label}.{model_dict['object_name']}"


class CityOSAdminConfig(AdminConfig):
    """Django's admin with the CityOS site (branding, models grouped by capability)."""

    default_site = "cityos.admin_site.CityOSAdminSite"
