"""Serializers of the dataset catalogue's API (datahub/datasets/api.py)."""

from rest_framework import serializers

from datahub.core.models import Department
from datahub.datasets.models import Dataset, DatasetField, DatasetImport, DatasetVersion


class DatasetFieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetField
        fields = ["name", "title", "type", "format", "unit", "required", "is_primary_key", "description"]


class DatasetSerializer(serializers.ModelSerializer):
    fields = DatasetFieldSerializer(many=True, read_only=True)
    owner_department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all())
    owner_department_name = serializers.CharField(source="owner_department.name", read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "slug",
            "title",
            "description",
            "owner_department",
            "owner_department_name",
            "tags",
            "update_frequency",
            "licence",
            "level",
            "location",
            "entity_mapping",
            "current_version",
            "row_count",
            "is_geographic",
            "fields",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "slug",
            "location",
            "current_version",
            "row_count",
            "is_geographic",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"slug": {"required": False}}


class DatasetVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetVersion
        fields = [
            "number",
            "mode",
            "filename",
            "rows_added",
            "rows_changed",
            "rows_removed",
            "row_count",
            "created_at",
            "run",
        ]


class DatasetImportSerializer(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True, default=None)
    error_report_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetImport
        fields = [
            "id",
            "dataset",
            "filename",
            "size",
            "format",
            "encoding",
            "delimiter",
            "schema",
            "location",
            "preview",
            "mode",
            "on_error",
            "status",
            "progress",
            "message",
            "rows_read",
            "rows_valid",
            "error_count",
            "errors",
            "error_report_url",
            "run",
            "version",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_error_report_url(self, obj) -> str | None:
        return f"/api/v1/datahub/dataset-imports/{obj.id}/errors/" if obj.error_report else None


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    encoding = serializers.CharField(required=False, allow_blank=True, default="")
    delimiter = serializers.CharField(required=False, allow_blank=True, default="", max_length=2)


class ConfirmSerializer(serializers.Serializer):
    schema = serializers.ListField(child=serializers.DictField(), required=False)
    location = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    mode = serializers.ChoiceField(choices=DatasetImport.Mode.choices, default=DatasetImport.Mode.UPSERT)
    on_error = serializers.ChoiceField(choices=DatasetImport.OnError.choices, default=DatasetImport.OnError.ABORT)
