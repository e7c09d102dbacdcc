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

from . import monitoring_admin  # noqa: E402, F401 - registers the monitoring admin pages
