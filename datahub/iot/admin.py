
from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.utils.translation import gettext_lazy as _

from datahub.iot.models import (
    INGEST_BATCH_FIELDS,
    Datastream,
    Device,
    IngestBatch,
    ObservationLatest,
    ObservationRollup,
    SeriesImport,
)


class DatastreamInline(admin.TabularInline):
    model = Datastream
    extra = 0
    fields = ["metric", "observed_property", "unit", "valid_min", "valid_max"]


@admin.register(Device)
class DeviceAdmin(GISModelAdmin):
    list_display = [
        "key",
        "entity",
        "device_type",
        "model",
        "area",
        "owner_department",
        "last_seen_at",
        "status",
        "is_active",
        "broker_synced",
    ]
    list_filter = ["device_type", "is_active"]
    search_fields = ["key", "entity__name", "model"]
    raw_id_fields = ["entity", "area", "owner_department"]
    readonly_fields = ["last_seen_at", "broker_synced_at", "broker_error"]
    inlines = [DatastreamInline]

    @admin.display(boolean=True, description=_("at the MQTT broker"))
    def broker_synced(self, obj) -> bool:
        return obj.broker_synced

    def save_model(self, request, obj, form, change):
        # Switching a device on or off here reaches the broker like the API's (device_update).
        from datahub.iot.services.broker import devices_broker_sync_on_commit

        if change and "is_active" in form.changed_data:
            obj.broker_revision += 1
            devices_broker_sync_on_commit(obj.key)
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        from datahub.iot.services.devices import device_delete

        device_delete(device_id=obj.id)

    def delete_queryset(self, request, queryset):
        from datahub.iot.services.devices import device_delete

        for device_id in queryset.values_list("id", flat=True):
            device_delete(device_id=device_id)


@admin.register(Datastream)
class DatastreamAdmin(admin.ModelAdmin):
    list_display = ["id", "device", "metric", "observed_property", "unit", "valid_min", "valid_max"]
    list_filter = ["metric"]
    search_fields = ["device__key", "metric", "observed_property"]
    raw_id_fields = ["device"]


@admin.register(ObservationLatest)
class ObservationLatestAdmin(admin.ModelAdmin):
    list_display = ["datastream", "time", "value"]
    raw_id_fields = ["datastream"]
    search_fields = ["datastream__device__key"]

    def has_change_permission(self, request, obj=None):
        return False  # written only by ingestion


@admin.register(ObservationRollup)
class ObservationRollupAdmin(admin.ModelAdmin):
    list_display = ["datastream", "resolution", "bucket", "count", "min", "max", "sum"]
    list_filter = ["resolution"]
    raw_id_fields = ["datastream"]
    show_full_result_count = False  # counting millions of rollup rows for the paginator is slow

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SeriesImport)
class SeriesImportAdmin(admin.ModelAdmin):
    """Historical series file imports. Read-only: they are started, resumed and cancelled by the
    pages, the API and the worker (a stuck one is resumed by the beat job, not by hand)."""

    list_display = ["id", "filename", "status", "attempt", "run", "created_by", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["filename"]
    raw_id_fields = ["run", "created_by"]
    readonly_fields = [f.name for f in SeriesImport._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = INGEST_BATCH_FIELDS
    list_filter = ["channel"]
    list_select_related = ["source", "run__source"]
    raw_id_fields = ["source", "run"]
    date_hierarchy = "committed_at"

    def has_change_permission(self, request, obj=None):
        return False
