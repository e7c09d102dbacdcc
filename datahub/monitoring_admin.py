"""Admin pages of monitoring (imported by datahub/admin.py)."""

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
from .services.monitoring import notify, rules


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "severity", "metric", "device_type", "area", "department", "is_active"]
    list_filter = ["kind", "severity", "is_active"]
    search_fields = ["name", "metric"]
    raw_id_fields = ["area", "subject", "department", "created_by"]
    filter_horizontal = ["notify_users"]
    readonly_fields = ["revision"]

    def save_model(self, request, obj, form, change):
        # Validate like the API does, and start a fresh revision so evaluation state restarts.
        obj.params = rules.rule_validate(kind=obj.kind, params=obj.params, metric=obj.metric)
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
    raw_id_fields = ["rule", "area", "subject", "department", "assignee", "acknowledged_by"]
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
    list_display = ["name", "url", "department", "min_severity", "is_active", "consecutive_failures", "disabled_at"]
    list_filter = ["is_active"]
    raw_id_fields = ["department"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "event", "status", "attempts", "last_status_code", "created_at", "delivered_at"]
    list_filter = ["status", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    @admin.action(description=_("Redeliver (re-enables the endpoint)"))
    def redeliver(self, request, queryset):
        for delivery in queryset:
            notify.webhook_redeliver(delivery_id=delivery.id)
