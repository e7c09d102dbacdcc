from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from .models import (
    Area,
    Dataset,
    DatasetField,
    DatasetImport,
    DatasetRecord,
    DatasetVersion,
    Department,
    Entity,
    EntityIdentifier,
    Event,
    Run,
    Source,
)


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


# --- dataset catalogue ---------------------------------------------------------------------------

class DatasetFieldInline(admin.TabularInline):
    model = DatasetField
    extra = 0
    fields = ["position", "name", "title", "type", "format", "unit", "required", "is_primary_key", "description"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "owner_department", "level", "update_frequency", "current_version", "row_count"]
    list_filter = ["level", "update_frequency", "is_geographic"]
    search_fields = ["title", "slug", "description"]
    raw_id_fields = ["owner_department", "source", "created_by"]
    readonly_fields = ["current_version", "row_count", "is_geographic", "created_at", "updated_at"]
    inlines = [DatasetFieldInline]


@admin.register(DatasetField)
class DatasetFieldAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "type", "unit", "required", "is_primary_key"]
    list_filter = ["type", "is_primary_key"]
    search_fields = ["name", "dataset__title"]
    raw_id_fields = ["dataset"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["dataset", "number", "mode", "rows_added", "rows_changed", "rows_removed", "row_count", "created_at"]
    search_fields = ["dataset__title", "filename"]
    readonly_fields = [f.name for f in DatasetVersion._meta.fields]


@admin.register(DatasetImport)
class DatasetImportAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "filename", "status", "progress", "rows_read", "rows_valid", "error_count",
                    "created_by", "created_at"]
    list_filter = ["status", "format", "mode", "on_error"]
    search_fields = ["filename", "dataset__title"]
    raw_id_fields = ["dataset", "run", "version", "created_by"]
    readonly_fields = ["preview", "errors", "claimed_at", "finished_at", "created_at"]


@admin.register(DatasetRecord)
class DatasetRecordAdmin(GISModelAdmin):
    list_display = ["key", "dataset", "version_from", "version_to", "area", "row_number"]
    list_filter = ["dataset"]
    search_fields = ["key"]
    raw_id_fields = ["dataset", "area", "entity", "source", "run"]
    list_select_related = ["dataset", "area"]
