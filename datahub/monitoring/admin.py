"""Admin pages of monitoring (imported by datahub/admin.py)."""

from django import forms
from django.contrib import admin

from datahub.monitoring.models import (
    Alert,
    AlertComment,
    AlertHistory,
    AlertRule,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationPreference,
)
from datahub.monitoring.services import evaluators, rules
from datahub.monitoring.services.cases import case_category_validate


class AlertRuleAdminForm(forms.ModelForm):
    """Validates like the API and the rule editor, so a bad rule is a form error, not a crash."""

    class Meta:
        model = AlertRule
        fields = "__all__"  # noqa: DJ007 - the admin shows every field

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from datahub.monitoring.forms import _case_category_field

        _case_category_field(self)

    def clean(self):
        data = super().clean()
        datastream = data.get("datastream")
        if datastream is not None and not data.get("metric") and data.get("kind") in rules.SERIES_KINDS:
            data["metric"] = datastream.metric
        try:
            data["case_category"] = case_category_validate(data.get("case_category") or "")
        except evaluators.RuleParamError as exc:
            self.add_error("case_category", str(exc))
        if data.get("kind"):
            try:
                data["params"] = rules.rule_validate(
                    kind=data["kind"],
                    params=data.get("params") or {},
                    metric=data.get("metric") or "",
                    datastream_id=datastream.id if datastream else None,
                )
            except evaluators.RuleParamError as exc:
                field = next((f for f in ("metric", "datastream", "kind") if str(exc).startswith(f)), "params")
                self.add_error(field, str(exc))
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleAdminForm
    list_display = [
        "name",
        "kind",
        "severity",
        "metric",
        "device_type",
        "area",
        "datastream",
        "department",
        "is_active",
    ]
    list_filter = ["kind", "severity", "is_active"]
    list_select_related = ["area", "datastream", "department"]
    search_fields = ["name", "metric"]
    raw_id_fields = ["area", "subject", "department", "created_by"]
    autocomplete_fields = ["datastream"]  # DatastreamAdmin searches device key and metric
    filter_horizontal = ["notify_users"]
    readonly_fields = ["revision"]

    def save_model(self, request, obj, form, change):
        # The form validated the rule; a new revision makes evaluation state restart.
        if change:
            obj.revision += 1
        super().save_model(request, obj, form, change)
        rules.rules_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        rules.rules_changed()


class AlertHistoryInline(admin.TabularInline):
    model = AlertHistory
    extra = 0
    readonly_fields = ["action", "actor", "at", "note", "data"]
    can_delete = False


class AlertCommentInline(admin.TabularInline):
    model = AlertComment
    extra = 0
    readonly_fields = ["author", "created_at"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["title", "severity", "status", "acknowledged", "assignee", "raised_at", "cleared_at"]
    list_filter = ["status", "severity", "acknowledged"]
    search_fields = ["title", "subject_key"]
    date_hierarchy = "raised_at"
    raw_id_fields = ["rule", "datastream", "area", "subject", "department", "assignee", "acknowledged_by"]
    readonly_fields = ["status", "raised_at", "cleared_at", "acknowledged", "acknowledged_at", "escalation_level"]
    inlines = [AlertHistoryInline, AlertCommentInline]


class EscalationLevelInline(admin.TabularInline):
    model = EscalationLevel
    extra = 1
    filter_horizontal = ["users"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["department", "repeat_minutes", "is_active"]
    raw_id_fields = ["department"]
    inlines = [EscalationLevelInline]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "enabled", "min_severity", "quiet_start", "quiet_end", "quiet_action"]
    list_filter = ["channel", "enabled"]
    raw_id_fields = ["user"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["alert", "user", "channel", "reason", "status", "created_at", "sent_at"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["alert", "user"]


# Monitoring webhooks are event subscriptions of the city's staff: their admin is cityos's
# (event subscriptions, with their delivery log), their pages are /monitoring/webhooks/.
