from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "department", "is_active", "is_staff"]
    list_filter = ["role", "department", "is_active", "is_staff"]
    search_fields = ["username", "display_name", "first_name", "last_name", "email"]
    autocomplete_fields = ["department"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("City role"), {"fields": ("role", "department", "display_name", "phone")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("City role"), {"fields": ("role", "department")}),)


# --- open platform ----------------------------------------------------------------------------------------

from django.utils import timezone  # noqa: E402

from .api import keys as api_keys  # noqa: E402
from .models import (  # noqa: E402
    ApiApplication,
    ApiKey,
    ApiPlan,
    ApiUsage,
    DeveloperOrganisation,
    EventDelivery,
    EventSubscription,
)
from .webhooks import services as webhook_services  # noqa: E402


@admin.register(ApiPlan)
class ApiPlanAdmin(admin.ModelAdmin):
    list_display = ["name", "per_second", "per_minute", "per_day"]


@admin.register(DeveloperOrganisation)
class DeveloperOrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "contact_email", "is_approved", "approved_at", "created_at"]
    list_filter = ["is_approved"]
    search_fields = ["name", "contact_email"]
    readonly_fields = ["approved_by", "approved_at"]
    actions = ["approve"]

    @admin.action(description=_("Approve the selected organisations"))
    def approve(self, request, queryset):
        n = queryset.filter(is_approved=False).update(
            is_approved=True, approved_by=request.user, approved_at=timezone.now()
        )
        self.message_user(request, _("%(n)d organisation(s) approved.") % {"n": n})


@admin.register(ApiApplication)
class ApiApplicationAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "owner", "plan", "access_level", "created_at"]
    list_filter = ["access_level", "plan"]
    search_fields = ["name", "organisation__name", "owner__username"]
    autocomplete_fields = ["owner"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "application", "expires_at", "revoked_at", "last_used_at", "created_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "application__name"]
    readonly_fields = ["prefix", "secret_hash", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are issued where their secret can be shown once (portal, manage.py api_key_create)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            api_keys.api_key_revoke(key=key)
        self.message_user(request, _("Keys revoked."))


@admin.register(ApiUsage)
class ApiUsageAdmin(admin.ModelAdmin):
    list_display = ["day", "key", "endpoint", "status", "count"]
    list_filter = ["day", "status"]
    search_fields = ["endpoint", "key__name", "key__prefix"]


class EventDeliveryInline(admin.TabularInline):
    model = EventDelivery
    extra = 0
    max_num = 0
    fields = ["created_at", "event", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at"]
    readonly_fields = fields
    ordering = ["-created_at"]
    show_change_link = True


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "application",
        "department",
        "url",
        "is_active",
        "consecutive_failures",
        "disabled_at",
        "created_at",
    ]
    # An empty application: the city's own (the monitoring webhooks).
    list_filter = ["is_active", ("application", admin.EmptyFieldListFilter)]
    search_fields = ["name", "url", "application__name", "application__organisation__name"]
    readonly_fields = ["consecutive_failures", "disabled_at", "disabled_reason", "created_by", "created_at"]
    inlines = [EventDeliveryInline]
    actions = ["enable", "disable", "send_test"]

    def has_add_permission(self, request):
        return False  # created where the signing secret can be shown once (portal, API)

    @admin.action(description=_("Enable the selected subscriptions"))
    def enable(self, request, queryset):
        for sub in queryset:
            webhook_services.subscription_enable(subscription=sub)
        self.message_user(request, _("Subscriptions enabled."))

    @admin.action(description=_("Disable the selected subscriptions"))
    def disable(self, request, queryset):
        for sub in queryset:
            webhook_services.subscription_disable(subscription=sub, actor=request.user)
        self.message_user(request, _("Subscriptions disabled."))

    @admin.action(description=_("Send a test delivery"))
    def send_test(self, request, queryset):
        for sub in queryset:
            webhook_services.subscription_send_test(subscription=sub)
        self.message_user(request, _("Test deliveries queued."))


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    """The delivery log; filter on "Dead-lettered" for the dead-letter list and replay from there."""

    list_display = ["created_at", "subscription", "event", "status", "attempts", "last_status_code", "delivered_at"]
    list_filter = ["status", "event"]
    search_fields = ["subscription__name", "event", "event_id"]
    readonly_fields = [f.name for f in EventDelivery._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Replay the selected deliveries"))
    def replay(self, request, queryset):
        n = 0
        for d in queryset.exclude(status__in=["pending", "retrying"]):
            webhook_services.delivery_replay(delivery=d)
            n += 1
        self.message_user(request, _("%(n)d deliveries queued again.") % {"n": n})
