from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from .models import Area, Department, Entity, EntityIdentifier, Event, Run, Source


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "code", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "name_en", "code"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path"]


@admin.register(Area)
class AreaAdmin(GISModelAdmin):
    list_display = ["name", "name_en", "code", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["name", "name_en", "code"]
    autocomplete_fields = ["parent"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "connector", "owner_department", "is_active"]
    list_filter = ["kind", "is_active", "connector"]
    search_fields = ["name", "code"]
    exclude = ["credentials"]  # write-only: set through the API or a service, never shown back


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "status", "started_at", "finished_at", "rows_read", "rows_stored", "rows_rejected"]
    list_filter = ["status", "source__kind"]
    readonly_fields = [f.name for f in Run._meta.fields]


class EntityIdentifierInline(admin.TabularInline):
    model = EntityIdentifier
    extra = 0


@admin.register(Entity)
class EntityAdmin(GISModelAdmin):
    list_display = ["name", "name_en", "type", "area", "department"]
    list_filter = ["type"]
    search_fields = ["name", "name_en", "identifiers__value"]
    inlines = [EntityIdentifierInline]
    raw_id_fields = ["area", "merged_into", "department"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["type", "occurred_at", "area", "subject", "actor", "object_ref"]
    list_filter = ["type"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["subject", "area", "actor", "source"]

    def has_change_permission(self, request, obj=None):
        return False  # the event log is append-only


# --- internet data ---------------------------------------------------------------------------

from .models import Document, DocumentArea, DocumentEntity, FeedState, TextModel, TopicRule  # noqa: E402


class DocumentAreaInline(admin.TabularInline):
    model = DocumentArea
    extra = 0
    raw_id_fields = ["area"]


class DocumentEntityInline(admin.TabularInline):
    model = DocumentEntity
    extra = 0
    raw_id_fields = ["entity"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "published_at", "language", "topic", "sentiment", "district", "cluster_id"]
    list_filter = ["language", "topic", "sentiment", "source"]
    search_fields = ["title", "url", "external_id"]
    date_hierarchy = "published_at"
    raw_id_fields = ["source", "run", "area", "district", "flagged_by"]
    readonly_fields = ["dedup_key", "simhash", "cluster_id", "fetched_at"]
    exclude = ["search_vector"]
    inlines = [DocumentAreaInline, DocumentEntityInline]


@admin.register(TopicRule)
class TopicRuleAdmin(admin.ModelAdmin):
    list_display = ["keyword", "topic", "weight", "is_active", "updated_at"]
    list_filter = ["topic", "is_active"]
    list_editable = ["weight", "is_active"]
    search_fields = ["keyword"]


@admin.register(TextModel)
class TextModelAdmin(admin.ModelAdmin):
    list_display = ["kind", "trained_at", "n_samples"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "trained_at", "n_samples", "metrics"]


@admin.register(FeedState)
class FeedStateAdmin(admin.ModelAdmin):
    list_display = ["source", "last_fetched_at", "last_status_code", "consecutive_failures", "etag", "last_modified"]
    readonly_fields = [f.name for f in FeedState._meta.fields]
