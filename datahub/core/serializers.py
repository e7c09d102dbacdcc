from django_celery_beat.models import PeriodicTask
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from cityos.api.fields import BoundedDateTimeField
from datahub.core.models import Area, Department, Entity, EntityIdentifier, Event, Run, Source


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name", "name_en", "kind", "parent", "path", "phone", "is_active"]


# --- areas -----------------------------------------------------------------------------------


class AreaSerializer(serializers.ModelSerializer):
    """An area without its boundary (boundaries come from the `geojson` endpoint, simplified)."""

    has_geometry = serializers.BooleanField(source="has_geom", read_only=True)
    children = serializers.IntegerField(source="n_children", read_only=True)
    centroid = GeometryField(read_only=True)

    class Meta:
        model = Area
        fields = [
            "id",
            "code",
            "name",
            "name_en",
            "level",
            "parent",
            "population",
            "centroid",
            "has_geometry",
            "children",
        ]


class AreaInfoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    level = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)


class LocateQuerySerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)


class MatchQuerySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=2000, trim_whitespace=True)


class GeoJSONQuerySerializer(serializers.Serializer):
    parent = serializers.IntegerField(required=False)
    level = serializers.ChoiceField(choices=Area.Level.choices, required=False)
    ids = serializers.CharField(required=False, help_text="comma-separated area ids")
    roots = serializers.BooleanField(required=False, default=False)
    tolerance = serializers.FloatField(required=False, min_value=0, max_value=0.1, default=0.0001)

    def validate_ids(self, value):
        try:
            return [int(v) for v in value.split(",") if v.strip()]
        except ValueError as exc:
            raise serializers.ValidationError("ids must be integers separated by commas") from exc


class AreaImportSerializer(serializers.Serializer):
    """A GeoJSON upload and its property mapping (see datahub.core.services.areas.AreaMapping)."""

    file = serializers.FileField()
    code_prop = serializers.CharField(max_length=200)
    name_prop = serializers.CharField(max_length=200)
    name_en_prop = serializers.CharField(max_length=200, required=False, allow_blank=True)
    level = serializers.ChoiceField(choices=Area.Level.choices, required=False)
    level_prop = serializers.CharField(max_length=200, required=False, allow_blank=True)
    level_map = serializers.JSONField(required=False)
    parent_code_prop = serializers.CharField(max_length=200, required=False, allow_blank=True)
    parent_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    code_prefix = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    parent_code_prefix = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    gcj02 = serializers.BooleanField(required=False, default=False)

    def validate_level_map(self, value):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise serializers.ValidationError("must be a JSON object of level names")
        return value

    def validate(self, attrs):
        if not attrs.get("level") and not attrs.get("level_prop"):
            raise serializers.ValidationError({"level": "give a fixed level or level_prop"})
        return attrs


class AreaImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    source_srid = serializers.IntegerField()


# --- sources and runs ------------------------------------------------------------------------


class ScheduleSerializer(serializers.Serializer):
    cron = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    interval_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=1)


def _schedule_repr(task: PeriodicTask | None) -> dict | None:
    if task is None:
        return None
    out = {"id": task.id, "enabled": task.enabled, "task": task.task}
    if task.crontab_id:
        c = task.crontab
        out["cron"] = f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
    if task.interval_id:
        out["interval_seconds"] = task.interval.every
    return out


class SourceSerializer(serializers.ModelSerializer):
    """Credentials are write-only: responses only say whether some are stored (`has_credentials`)."""

    credentials = serializers.JSONField(write_only=True, required=False, allow_null=True)
    has_credentials = serializers.SerializerMethodField()
    schedule = ScheduleSerializer(required=False, allow_null=True)
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "owner_department",
            "connector",
            "config",
            "credentials",
            "has_credentials",
            "schedule",
            "is_active",
            "created_at",
            "last_run",
        ]
        read_only_fields = ["created_at"]

    def get_has_credentials(self, obj) -> bool:
        return bool(obj.credentials)

    def get_last_run(self, obj) -> dict | None:
        runs = getattr(obj, "recent_runs", None)
        run = runs[0] if runs else None
        return {"id": run.id, "status": run.status, "finished_at": run.finished_at} if run else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["schedule"] = _schedule_repr(instance.schedule)
        return data

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def validate_credentials(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class RunSerializer(serializers.ModelSerializer):
    source_code = serializers.CharField(source="source.code", read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "source",
            "source_code",
            "status",
            "started_at",
            "finished_at",
            "rows_read",
            "rows_stored",
            "rows_rejected",
            "progress",
            "errors",
            "triggered_by",
            "created_at",
        ]


# --- entities --------------------------------------------------------------------------------


class EntityIdentifierSerializer(serializers.ModelSerializer):
    class Meta:
        model = EntityIdentifier
        fields = ["id", "scheme", "value", "source", "confidence"]


class EntitySerializer(serializers.ModelSerializer):
    identifiers = EntityIdentifierSerializer(many=True, read_only=True)
    geometry = GeometryField(read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True, default=None)

    class Meta:
        model = Entity
        fields = [
            "id",
            "type",
            "name",
            "name_en",
            "normalized_name",
            "geometry",
            "area",
            "area_name",
            "department",
            "attributes",
            "identifiers",
            "merged_into",
            "created_at",
            "updated_at",
        ]


class EntityUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300, required=False)
    name_en = serializers.CharField(max_length=300, required=False, allow_blank=True)
    type = serializers.ChoiceField(choices=Entity.Type.choices, required=False)
    attributes = serializers.DictField(required=False)
    area = serializers.PrimaryKeyRelatedField(queryset=Area.objects.all(), required=False, allow_null=True)
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False, allow_null=True)


class EntityResolveSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Entity.Type.choices)
    name = serializers.CharField(max_length=300)
    name_en = serializers.CharField(max_length=300, required=False, allow_blank=True)
    identifiers = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    attributes = serializers.DictField(required=False)
    source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.all(), required=False)

    def validate(self, attrs):
        if ("lon" in attrs) != ("lat" in attrs):
            raise serializers.ValidationError({"lat" if "lon" in attrs else "lon": "give both lon and lat"})
        return attrs


class ResolutionSerializer(serializers.Serializer):
    entity_id = serializers.IntegerField()
    confidence = serializers.FloatField()
    created = serializers.BooleanField()


class EntityMergeSerializer(serializers.Serializer):
    merged_id = serializers.IntegerField(help_text="the entity folded into this one")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class EntitySplitSerializer(serializers.Serializer):
    identifier_ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class EventIdSerializer(serializers.Serializer):
    event_id = serializers.IntegerField()


# --- events ----------------------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    location = GeometryField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "occurred_at",
            "recorded_at",
            "subject",
            "area",
            "location",
            "source",
            "actor",
            "department",
            "object_ref",
            "payload",
        ]


class EventCountsQuerySerializer(serializers.Serializer):
    type = serializers.CharField(required=False, help_text="one type, or several separated by commas")
    bucket = serializers.ChoiceField(choices=["hour", "day", "week", "month"], default="day")
    group = serializers.CharField(
        required=False, default="area", allow_blank=True, help_text="area, type, area,type or none"
    )
    area = serializers.IntegerField(required=False)
    level = serializers.ChoiceField(
        choices=Area.Level.choices, required=False, help_text="with group=area: count per ancestor at this level"
    )
    since = BoundedDateTimeField(required=False)
    until = BoundedDateTimeField(required=False)

    def validate_group(self, value):
        parts = [p.strip() for p in value.split(",") if p.strip() and p.strip() != "none"]
        bad = [p for p in parts if p not in ("area", "type")]
        if bad:
            raise serializers.ValidationError(f"unknown group {bad[0]!r}: use area, type, area,type or none")
        return ",".join(parts)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs
