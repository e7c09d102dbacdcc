
from django import forms
from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from datahub.datasets.forms import DatasetMappingMixin
from datahub.datasets.models import Dataset, DatasetField, DatasetImport, DatasetRecord, DatasetVersion


class DatasetEntityMappingForm(DatasetMappingMixin, forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["entity_mapping"]  # the admin adds the rest of its fieldsets


class DatasetFieldInline(admin.TabularInline):
    model = DatasetField
    extra = 0
    fields = ["position", "name", "title", "type", "format", "unit", "required", "is_primary_key", "description"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetEntityMappingForm
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
    list_display = [
        "dataset",
        "number",
        "mode",
        "rows_added",
        "rows_changed",
        "rows_removed",
        "row_count",
        "created_at",
    ]
    search_fields = ["dataset__title", "filename"]
    readonly_fields = [f.name for f in DatasetVersion._meta.fields]


@admin.register(DatasetImport)
class DatasetImportAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "dataset",
        "filename",
        "status",
        "progress",
        "rows_read",
        "rows_valid",
        "error_count",
        "created_by",
        "created_at",
    ]
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
