from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from .models import (
    CalendarDay,
    Case,
    CaseAttachment,
    CaseTransition,
    Category,
    CategoryCorrection,
    ClassifierModel,
    ClassifierRule,
    DispatchCentre,
    DispatchRule,
    GridAssignment,
    ServiceAttribute,
    SlaPolicy,
    SupervisionOrder,
    TrackingCounter,
)
from .services.classification import classifier_cache_reset
from .services.refcache import refcache_reset_all


class ServiceAttributeInline(admin.TabularInline):
    model = ServiceAttribute
    extra = 0


class ResetCachesMixin:
    """Reference data read through per-process caches: this process sees an edit at once, workers
    within refcache.TTL_S seconds."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        refcache_reset_all()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        refcache_reset_all()


@admin.register(Category)
class CategoryAdmin(ResetCachesMixin, admin.ModelAdmin):
    list_display = ["name", "name_en", "code", "service_code", "parent", "default_department", "is_active"]
    list_filter = ["is_active", "group"]
    search_fields = ["name", "name_en", "code", "service_code"]
    autocomplete_fields = ["parent"]
    inlines = [ServiceAttributeInline]


@admin.register(ClassifierRule)
class ClassifierRuleAdmin(admin.ModelAdmin):
    list_display = ["category", "keywords", "weight", "is_active"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        classifier_cache_reset()  # this process at once; workers within CACHE_TTL_S

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        classifier_cache_reset()

    list_filter = ["is_active"]
    search_fields = ["keywords", "category__name"]


@admin.register(ClassifierModel)
class ClassifierModelAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "trained_on", "accuracy", "is_active"]
    exclude = ["blob"]
    readonly_fields = ["trained_on", "accuracy", "labels"]


class TransitionInline(admin.TabularInline):
    model = CaseTransition
    extra = 0
    readonly_fields = ["action", "from_status", "to_status", "actor", "department", "note", "created_at"]
    can_delete = False


@admin.register(Case)
class CaseAdmin(GISModelAdmin):
    list_display = ["tracking_number", "title", "channel", "category", "status", "priority", "department", "due_at"]
    list_filter = ["status", "channel", "priority"]
    search_fields = ["tracking_number", "title", "origin_ref"]
    raw_id_fields = ["district", "street", "grid", "area", "department", "assignee", "merged_into", "reporter_user"]
    readonly_fields = ["tracking_number", "token", "created_at", "status"]
    inlines = [TransitionInline]


@admin.register(CaseTransition)
class CaseTransitionAdmin(admin.ModelAdmin):
    list_display = ["case", "action", "from_status", "to_status", "actor", "created_at"]
    list_filter = ["action"]
    raw_id_fields = ["case", "actor", "department"]


@admin.register(CaseAttachment)
class CaseAttachmentAdmin(admin.ModelAdmin):
    list_display = ["case", "name", "size", "uploaded_by", "created_at"]
    raw_id_fields = ["case", "uploaded_by"]


@admin.register(CategoryCorrection)
class CategoryCorrectionAdmin(admin.ModelAdmin):
    list_display = ["case", "previous", "corrected", "actor", "created_at"]
    raw_id_fields = ["case", "actor"]


@admin.register(DispatchCentre)
class DispatchCentreAdmin(ResetCachesMixin, admin.ModelAdmin):
    list_display = ["department"]


@admin.register(DispatchRule)
class DispatchRuleAdmin(admin.ModelAdmin):
    list_display = ["category", "area", "department", "order", "is_active", "note"]
    list_filter = ["is_active"]
    raw_id_fields = ["area"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ResetCachesMixin, admin.ModelAdmin):
    list_display = ["category", "priority", "resolve_hours", "warn_hours"]


@admin.register(CalendarDay)
class CalendarDayAdmin(ResetCachesMixin, admin.ModelAdmin):
    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]


@admin.register(SupervisionOrder)
class SupervisionOrderAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "status", "department", "due_at", "created_at"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["case", "issued_by", "department"]


@admin.register(GridAssignment)
class GridAssignmentAdmin(admin.ModelAdmin):
    list_display = ["grid", "worker", "is_active"]
    raw_id_fields = ["grid", "worker"]


@admin.register(TrackingCounter)
class TrackingCounterAdmin(admin.ModelAdmin):
    list_display = ["day", "last"]
