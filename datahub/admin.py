import json

from django import forms
from django.contrib import admin, messages
from django.contrib.gis.admin import GISModelAdmin
from django.utils.translation import gettext_lazy as _

from .forms import DatasetMappingMixin
from .models import (
    Area,
    Dataset,
    DatasetField,
    DatasetImport,
    DatasetRecord,
    DatasetVersion,
    Datastream,
    Department,
    Device,
    Document,
    DocumentArea,
    DocumentEntity,
    Entity,
    EntityIdentifier,
    Event,
    FeedState,
    IngestBatch,
    ObservationLatest,
    ObservationRollup,
    Run,
    SeriesImport,
    Source,
    TextModel,
    TopicRule,
)
from .services import entities as entity_services
from .services import sources as source_services
from .services.sources import Schedule, SourceError


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
    list_select_related = ["parent"]
    show_full_result_count = False  # 45k gazetteer rows: skip the second COUNT(*)


class SourceForm(forms.ModelForm):
    """Credentials are write-only: a new value replaces them, an empty field keeps them."""

    new_credentials = forms.CharField(
        label=_("new credentials (JSON)"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Stored for the connector and never shown again. Leave empty to keep the current ones; {} clears them."
        ),
    )
    schedule_cron = forms.CharField(label=_("schedule (cron)"), required=False, help_text=_("e.g. */15 * * * *"))
    schedule_interval = forms.IntegerField(label=_("schedule (every N seconds)"), required=False, min_value=60)

    class Meta:
        model = Source
        fields = ["code", "name", "kind", "owner_department", "connector", "config", "is_active"]

    def clean_new_credentials(self):
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("not valid JSON: %(e)s") % {"e": exc}) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("must be a JSON object"))
        return value

    def clean_config(self):
        value = self.cleaned_data.get("config")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError(_("must be a JSON object"))
        return value or {}

    def clean(self):
        data = super().clean()
        cron, every = data.get("schedule_cron"), data.get("schedule_interval")
        if cron or every:
            try:
                Schedule(cron=cron or None, interval_seconds=every).validate()
            except SourceError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ["name", "code", "kind", "connector", "owner_department", "has_credentials", "schedule", "is_active"]
    list_filter = ["kind", "is_active", "connector"]
    search_fields = ["name", "code"]
    list_select_related = ["owner_department", "schedule"]

    @admin.display(boolean=True, description=_("credentials set"))
    def has_credentials(self, obj):
        return bool(obj.credentials)

    def save_model(self, request, obj, form, change):
        d = form.cleaned_data
        cron, every = d.get("schedule_cron"), d.get("schedule_interval")
        schedule = Schedule(cron=cron or None, interval_seconds=every) if (cron or every) else None
        # The form validated everything the services check, so these do not raise on user input.
        if change:
            kwargs = {k: d[k] for k in ("name", "kind", "connector", "config", "is_active")}
            kwargs["owner_department_id"] = d["owner_department"].id if d["owner_department"] else None
            if d["new_credentials"] is not None:
                kwargs["credentials"] = d["new_credentials"]
            if cron or every:
                kwargs["schedule"] = schedule
            source_services.source_update(source_id=obj.id, **kwargs)
        else:
            obj.pk = obj.id = source_services.source_register(
                code=d["code"],
                name=d["name"],
                kind=d["kind"],
                owner_department_id=d["owner_department"].id if d["owner_department"] else None,
                connector=d["connector"],
                config=d["config"],
                credentials=d["new_credentials"],
                schedule=schedule,
                is_active=d["is_active"],
            )

    def delete_model(self, request, obj):
        source_services.source_delete(source_id=obj.id)

    def delete_queryset(self, request, queryset):
        for source_id in queryset.values_list("id", flat=True):
            source_services.source_delete(source_id=source_id)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "source",
        "status",
        "window_date",
        "started_at",
        "finished_at",
        "rows_read",
        "rows_stored",
        "rows_rejected",
    ]
    list_filter = ["status", "source__kind"]
    list_select_related = ["source"]
    readonly_fields = [f.name for f in Run._meta.fields]

    def has_add_permission(self, request):
        return False  # runs are opened by connectors (run_start), not by hand


class EntityIdentifierInline(admin.TabularInline):
    model = EntityIdentifier
    extra = 0
    raw_id_fields = ["source"]


@admin.register(EntityIdentifier)
class EntityIdentifierAdmin(admin.ModelAdmin):
    list_display = ["scheme", "value", "entity", "source", "confidence"]
    list_filter = ["scheme"]
    search_fields = ["value", "entity__name"]
    raw_id_fields = ["entity", "source"]


@admin.register(Entity)
class EntityAdmin(GISModelAdmin):
    list_display = ["name", "name_en", "type", "area", "department", "merged_into"]
    list_filter = ["type"]
    search_fields = ["name", "name_en", "identifiers__value"]
    inlines = [EntityIdentifierInline]
    raw_id_fields = ["area", "merged_into", "department"]
    readonly_fields = ["normalized_name", "merged_into"]
    list_select_related = ["area", "department", "merged_into"]
    actions = ["merge_into_oldest", "undo_merge"]

    def save_model(self, request, obj, form, change):
        # The normalised name is what resolution matches on: keep it in step with the name.
        from .normalize import normalize_name

        obj.normalized_name = normalize_name(obj.name)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Merge the selected entities into the oldest one"))
    def merge_into_oldest(self, request, queryset):
        ids = sorted(queryset.values_list("id", flat=True))
        if len(ids) < 2:
            self.message_user(request, _("Select at least two entities."), messages.WARNING)
            return
        target, done = ids[0], 0
        for merged in ids[1:]:
            try:
                entity_services.entity_merge(
                    target_id=target, merged_id=merged, actor_id=request.user.id, reason="admin"
                )
                done += 1
            except entity_services.EntityError as exc:
                self.message_user(request, f"#{merged}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, _("%(n)d entities merged into #%(id)d.") % {"n": done, "id": target})

    @admin.action(description=_("Undo the merge of the selected entities"))
    def undo_merge(self, request, queryset):
        done = 0
        for entity in queryset:
            if not entity.merged_into_id:
                self.message_user(request, f"#{entity.id}: {_('was not merged')}", messages.WARNING)
                continue
            entity_services.entity_split(entity_id=entity.id, actor_id=request.user.id, reason="admin")
            done += 1
        if done:
            self.message_user(request, _("%(n)d merges undone.") % {"n": done})


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["type", "occurred_at", "area", "subject", "actor", "object_ref"]
    list_filter = ["type"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["subject", "area", "actor", "source"]
    list_select_related = ["area", "subject", "actor"]

    def has_change_permission(self, request, obj=None):
        return False  # the event log is append-only

    def has_delete_permission(self, request, obj=None):
        return False


# --- dataset catalogue ---------------------------------------------------------------------------


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


# --- IoT -------------------------------------------------------------------------------------------


class DatastreamInline(admin.TabularInline):
    model = Datastream
    extra = 0
    fields = ["metric", "observed_property", "unit", "valid_min", "valid_max"]


@admin.register(Device)
class DeviceAdmin(GISModelAdmin):
    list_display = ["key", "entity", "device_type", "model", "area", "owner_department", "last_seen_at", "status"]
    list_filter = ["device_type", "is_active"]
    search_fields = ["key", "entity__name", "model"]
    raw_id_fields = ["entity", "area", "owner_department"]
    readonly_fields = ["last_seen_at"]
    inlines = [DatastreamInline]


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
    list_display = [
        "id",
        "channel",
        "committed_at",
        "received",
        "stored",
        "duplicates",
        "rejected",
        "duration_ms",
        "lag_s",
        "source",
        "run",
    ]
    list_filter = ["channel"]
    list_select_related = ["source", "run__source"]
    raw_id_fields = ["source", "run"]
    date_hierarchy = "committed_at"

    def has_change_permission(self, request, obj=None):
        return False


# --- internet data ---------------------------------------------------------------------------


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


# Monitoring admin pages (rules, alerts, escalation, webhooks) live in their own module.
from . import monitoring_admin  # noqa: E402, F401
