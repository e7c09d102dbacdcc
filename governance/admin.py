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
    KnowledgeArticle,
    PersonalDataAccess,
    ServiceAttribute,
    SlaPolicy,
    SupervisionOrder,
    TrackingCounter,
)
from .services.calendar import calendar_days_announce
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
    list_filter = ["action", "to_status"]
    search_fields = ["case__tracking_number", "note", "actor__username"]
    date_hierarchy = "created_at"
    raw_id_fields = ["case", "actor", "department"]


@admin.register(CaseAttachment)
class CaseAttachmentAdmin(admin.ModelAdmin):
    list_display = ["case", "name", "size", "uploaded_by", "created_at"]
    search_fields = ["case__tracking_number", "name"]
    list_filter = ["content_type"]
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
    list_filter = ["is_active", "department"]
    search_fields = ["category__name", "area__name", "department__name", "note"]
    raw_id_fields = ["area"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ResetCachesMixin, admin.ModelAdmin):
    list_display = ["category", "priority", "resolve_hours", "warn_hours"]
    list_filter = ["priority"]
    search_fields = ["category__name"]


@admin.register(CalendarDay)
class CalendarDayAdmin(ResetCachesMixin, admin.ModelAdmin):
    """Edits go through the calendar service, which tells the other apps (offices' slots close on holidays)."""

    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        previous = form.initial.get("date") if change else None
        moved = [(previous, None, "")] if previous and previous != obj.date else []
        calendar_days_announce(days=moved + [(obj.date, obj.kind, obj.name)])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        calendar_days_announce(days=[(obj.date, None, "")])

    def delete_queryset(self, request, queryset):
        days = list(queryset.values_list("date", flat=True))
        super().delete_queryset(request, queryset)
        calendar_days_announce(days=[(d, None, "") for d in days])


@admin.register(SupervisionOrder)
class SupervisionOrderAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "status", "department", "due_at", "created_at"]
    list_filter = ["kind", "status", "department"]
    search_fields = ["case__tracking_number", "instruction"]
    raw_id_fields = ["case", "issued_by", "department"]


@admin.register(GridAssignment)
class GridAssignmentAdmin(admin.ModelAdmin):
    list_display = ["grid", "worker", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["grid__name", "grid__code", "worker__username", "worker__display_name"]
    raw_id_fields = ["grid", "worker"]


@admin.register(TrackingCounter)
class TrackingCounterAdmin(admin.ModelAdmin):
    list_display = ["day", "last"]


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    """The audit log of unmasked reporter details: read only."""

    list_display = ["at", "user", "case", "fields", "reason", "channel", "ip"]
    list_filter = ["channel"]
    search_fields = ["user__username", "case__tracking_number", "reason"]
    raw_id_fields = ["case", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    """The hotline's knowledge base (also edited by hotline staff on /governance/knowledge/)."""

    list_display = ["question", "category", "is_active", "times_used", "updated_at"]
    list_filter = ["is_active", "category"]
    search_fields = ["question", "question_en", "answer", "keywords"]
    readonly_fields = ["times_used", "updated_by"]

    def save_model(self, request, obj, form, change):
        from .services.knowledge import kb_article_save

        kb_article_save(article=obj, actor=request.user)
