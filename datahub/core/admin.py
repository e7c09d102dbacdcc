import json

from django import forms
from django.contrib import admin, messages
from django.contrib.gis.admin import GISModelAdmin
from django.utils.translation import gettext_lazy as _

from datahub.core.models import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from datahub.core.services import entities as entity_services
from datahub.core.services import sources as source_services
from datahub.core.services.sources import Schedule, SourceError


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
    search_fields = ["source__name"]
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
        from datahub.core.normalize import normalize_name

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
    search_fields = ["=type", "=object_ref"]  # exact matches: the event log is the largest table
    date_hierarchy = "occurred_at"
    raw_id_fields = ["subject", "area", "actor", "source"]
    list_select_related = ["area", "subject", "actor"]

    def has_change_permission(self, request, obj=None):
        return False  # the event log is append-only

    def has_delete_permission(self, request, obj=None):
        return False
