"""Admin pages of monitoring (imported by datahub/admin.py)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import (
    Alert,
    AlertComment,
    AlertHistory,
    AlertRule,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from .services.monitoring import evaluators, notify, rules
from .services.monitoring import webhooks as webhook_services


class AlertRuleAdminForm(forms.ModelForm):
    """Validates like the API and the rule editor, so a bad rule is a form error, not a crash."""

    class Meta:
        model = AlertRule
        fields = "__all__"  # noqa: DJ007 - the admin shows every field

    def clean(self):
        data = super().clean()
        datastream = data.get("datastream")
        if datastream is not None and not data.get("metric") and data.get("kind") in rules.SERIES_KINDS:
            data["metric"] = datastream.metric
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


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "url",
        "department",
        "min_severity",
        "is_active",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
    ]
    list_filter = ["is_active"]
    raw_id_fields = ["department"]
    readonly_fields = ["disabled_at", "disabled_reason"]
    actions = ["reenable", "send_test"]

    @admin.action(description=_("Re-enable"))
    def reenable(self, request, queryset):
        for endpoint in queryset:
            webhook_services.webhook_reenable(endpoint=endpoint)

    @admin.action(description=_("Send a test delivery"))
    def send_test(self, request, queryset):
        for endpoint in queryset:
            webhook_services.webhook_send_test(endpoint=endpoint)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    @admin.action(description=_("Redeliver (re-enables the endpoint)"))
    def redeliver(self, request, queryset):
        for delivery in queryset:
            notify.webhook_redeliver(delivery_id=delivery.id)
