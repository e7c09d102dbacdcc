from rest_framework import serializers

from datahub.iot.models import INGEST_BATCH_FIELDS, Datastream, Device, IngestBatch, SeriesImport


class DatastreamInlineSerializer(serializers.Serializer):
    metric = serializers.SlugField(max_length=64)
    observed_property = serializers.CharField(max_length=100, required=False, default="")
    unit = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    valid_min = serializers.FloatField(required=False, allow_null=True, default=None)
    valid_max = serializers.FloatField(required=False, allow_null=True, default=None)


class DatastreamWriteSerializer(DatastreamInlineSerializer):
    device_id = serializers.PrimaryKeyRelatedField(queryset=Device.objects.all(), source="device")

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        values["device_id"] = values.pop("device").id
        return values


class DeviceWriteSerializer(serializers.Serializer):
    key = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", max_length=64)
    name = serializers.CharField(max_length=300)
    device_type = serializers.ChoiceField(choices=Device.Type.choices)
    model = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    lon = serializers.FloatField(required=False, allow_null=True, default=None, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, allow_null=True, default=None, min_value=-90, max_value=90)
    owner_department_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    # A 32-bit column: a larger value was a 500 (DataError) under the fuzzer. A year is plenty.
    expected_interval_s = serializers.IntegerField(required=False, default=60, min_value=1, max_value=366 * 86400)
    datastreams = DatastreamInlineSerializer(many=True, required=False, default=list)


class LatestField(serializers.Field):
    def to_representation(self, ds):
        latest = getattr(ds, "latest", None)
        return {"time": latest.time, "value": latest.value} if latest else None


class DatastreamSerializer(serializers.ModelSerializer):
    device_key = serializers.CharField(source="device.key", read_only=True)
    latest = serializers.SerializerMethodField()

    class Meta:
        model = Datastream
        fields = [
            "id",
            "device",
            "device_key",
            "metric",
            "name",
            "observed_property",
            "unit",
            "valid_min",
            "valid_max",
            "latest",
        ]

    def get_latest(self, ds) -> dict | None:
        try:
            latest = ds.latest
        except Datastream.latest.RelatedObjectDoesNotExist:
            return None
        return {"time": latest.time, "value": latest.value}


class DeviceSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="entity.name", read_only=True)
    status = serializers.CharField(read_only=True)
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()
    area_name = serializers.CharField(source="area.name", read_only=True, default=None)
    broker_synced = serializers.BooleanField(
        read_only=True, help_text="the MQTT broker holds the device's current secret and state"
    )
    broker_error = serializers.CharField(
        read_only=True, help_text="why the last push to the MQTT broker failed (the reconcile job retries)"
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "entity",
            "key",
            "name",
            "device_type",
            "model",
            "lon",
            "lat",
            "area",
            "area_name",
            "owner_department",
            "expected_interval_s",
            "last_seen_at",
            "status",
            "is_active",
            "broker_synced",
            "broker_error",
        ]
        read_only_fields = ["entity", "key", "area", "last_seen_at"]

    def get_lon(self, d) -> float | None:
        return d.point.x if d.point else None

    def get_lat(self, d) -> float | None:
        return d.point.y if d.point else None


class IngestBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestBatch
        fields = [*INGEST_BATCH_FIELDS, "errors"]


class SeriesUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    encoding = serializers.CharField(required=False, allow_blank=True, default="")
    delimiter = serializers.CharField(required=False, allow_blank=True, default="", max_length=2)


class SeriesMappingSerializer(serializers.Serializer):
    mapping = serializers.DictField(
        help_text="datahub.iot.services.csv_import.ColumnMapping: layout (long|wide), time_column + time_format "
        "(ISO 8601, epoch, epoch_ms or a strptime pattern) or time_parts {year, month, day, hour, minute} or "
        "time_start + time_step_s, tz; long: device_column or device_key, value_columns {column: metric} or "
        "metric_column + value_column; wide: column_datastreams {column: datastream id} or metric + "
        "device_key_template; na_values."
    )


class SeriesImportSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(source="run.progress", read_only=True, default=0.0)
    rows_read = serializers.IntegerField(source="run.rows_read", read_only=True, default=0)
    rows_stored = serializers.IntegerField(source="run.rows_stored", read_only=True, default=0)
    rows_rejected = serializers.IntegerField(source="run.rows_rejected", read_only=True, default=0)
    errors = serializers.JSONField(source="run.errors", read_only=True, default=list)
    checkpoint = serializers.JSONField(source="run.checkpoint", read_only=True, default=dict)
    heartbeat_at = serializers.DateTimeField(source="run.heartbeat_at", read_only=True, default=None)

    class Meta:
        model = SeriesImport
        fields = [
            "id",
            "filename",
            "size",
            "encoding",
            "delimiter",
            "preview",
            "mapping",
            "status",
            "message",
            "run",
            "progress",
            "rows_read",
            "rows_stored",
            "rows_rejected",
            "errors",
            "checkpoint",
            "heartbeat_at",
            "attempt",
            "cancel_requested",
            "created_at",
            "queued_at",
            "finished_at",
        ]
        read_only_fields = fields
