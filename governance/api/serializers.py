from rest_framework import serializers

from governance.models import (
    Case,
    CaseAttachment,
    CaseTransition,
    Category,
    Channel,
    DispatchRule,
    PersonalDataAccess,
    Priority,
)
from governance.selectors.cases import sla_state
from governance.services.cases import SERVICE_ONLY_ACTIONS, TRANSITIONS, allowed_actions
from governance.services.privacy import reporter_for


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "code", "name", "name_en", "parent", "service_code", "group", "default_department"]


class CaseListSerializer(serializers.ModelSerializer):
    category_name = serializers.CharField(source="category.name", default=None, read_only=True)
    department_name = serializers.CharField(source="department.name", default=None, read_only=True)
    sla = serializers.SerializerMethodField()
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "tracking_number",
            "channel",
            "title",
            "category",
            "category_name",
            "priority",
            "status",
            "department",
            "department_name",
            "assignee",
            "district",
            "grid",
            "lon",
            "lat",
            "created_at",
            "due_at",
            "sla",
        ]

    def get_sla(self, obj) -> str:
        return sla_state(obj)

    def get_lon(self, obj) -> float | None:
        return obj.location.x if obj.location else None

    def get_lat(self, obj) -> float | None:
        return obj.location.y if obj.location else None


class TransitionSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.__str__", default=None, read_only=True)

    class Meta:
        model = CaseTransition
        fields = ["action", "from_status", "to_status", "actor", "actor_name", "department", "note", "created_at"]


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseAttachment
        fields = ["id", "name", "file", "content_type", "size", "created_at"]


class CaseDetailSerializer(CaseListSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()
    reporter_masked = serializers.SerializerMethodField(
        help_text="true when the reporter's name, phone and e-mail are masked for you (POST …/reporter/ to unmask, logged)"
    )

    class Meta(CaseListSerializer.Meta):
        fields = CaseListSerializer.Meta.fields + [
            "description",
            "address",
            "street",
            "area",
            "classification",
            "dispatch_explanation",
            "attributes",
            "origin",
            "origin_ref",
            "merged_into",
            "reporter_name",
            "reporter_phone",
            "reporter_email",
            "reporter_masked",
            "accepted_at",
            "resolved_at",
            "closed_at",
            "sla_hours",
            "suspended_seconds",
            "reopen_count",
            "rating",
            "rating_comment",
            "transitions",
            "attachments",
            "actions",
        ]

    def get_actions(self, obj) -> list[str]:
        return allowed_actions(case=obj, user=self.context["request"].user)

    def get_reporter_masked(self, obj) -> bool:
        return False  # replaced in to_representation (one place decides what is masked)

    def to_representation(self, obj):
        data = super().to_representation(obj)
        data.update(reporter_for(user=self.context["request"].user, case=obj))
        return data


class CaseCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), required=False, allow_null=True)
    service_code = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    address = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    reporter_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    reporter_phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    reporter_email = serializers.EmailField(required=False, allow_blank=True, default="")
    attributes = serializers.DictField(required=False, default=dict)

    def validate(self, attrs):
        if (attrs.get("lon") is None) != (attrs.get("lat") is None):
            raise serializers.ValidationError({"lat": ["give both lon and lat, or neither"]})
        return attrs


class TransitionRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=sorted(set(TRANSITIONS) - SERVICE_ONLY_ACTIONS))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    department = serializers.IntegerField(required=False, allow_null=True)
    assignee = serializers.IntegerField(required=False, allow_null=True)


class BulkTransitionSerializer(TransitionRequestSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=500)


class CorrectCategorySerializer(serializers.Serializer):
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all())


class MergeSerializer(serializers.Serializer):
    duplicate = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CaseReceiptSerializer(serializers.ModelSerializer):
    """What a creator who may not open the case gets back (e.g. an external developer's app
    reporting for a citizen): the number and the citizen's private link, nothing internal."""

    citizen_url = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "tracking_number", "status", "created_at", "citizen_key", "citizen_url"]
        read_only_fields = fields

    def get_citizen_url(self, obj) -> str:
        from governance.selectors.cases import case_citizen_path

        request = self.context.get("request")
        path = case_citizen_path(obj)
        return request.build_absolute_uri(path) if request else path


class RateSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    key = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    phone_last4 = serializers.RegexField(r"^[0-9]{4}$", required=False, allow_blank=True, default="")


class PublicCaseSerializer(serializers.ModelSerializer):
    """What the citizen holding the case's link (or phone digits) sees: no contact, no officer names."""

    category_name = serializers.CharField(source="category.name", default=None, read_only=True)
    department_name = serializers.CharField(source="department.name", default=None, read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "tracking_number",
            "title",
            "status",
            "status_notes",
            "category_name",
            "department_name",
            "created_at",
            "due_at",
            "resolved_at",
            "closed_at",
            "rating",
            "timeline",
        ]

    def get_timeline(self, obj) -> list[dict]:
        return [{"action": t.action, "status": t.to_status, "at": t.created_at} for t in obj.transitions.all()]


class DispatchRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = DispatchRule
        fields = ["id", "category", "area", "department", "order", "note", "is_active"]


class PatrolReportSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)


class EfficiencyRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    department_id = serializers.IntegerField()
    department = serializers.CharField()
    received = serializers.IntegerField()
    resolved = serializers.IntegerField()
    on_time_rate = serializers.FloatField(allow_null=True)
    mean_hours_to_accept = serializers.FloatField(allow_null=True)
    mean_hours_to_resolve = serializers.FloatField(allow_null=True)
    overdue = serializers.IntegerField()
    reopen_rate = serializers.FloatField()
    satisfaction = serializers.FloatField(allow_null=True)
    ratings = serializers.IntegerField()
    score = serializers.FloatField()


class UnmaskSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="why you need the contact details (logged)")


class ReporterSerializer(serializers.Serializer):
    reporter_name = serializers.CharField()
    reporter_phone = serializers.CharField()
    reporter_email = serializers.CharField()
    reporter_masked = serializers.BooleanField()


class PersonalDataAccessSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", default=None, read_only=True)
    tracking_number = serializers.CharField(source="case.tracking_number", read_only=True)

    class Meta:
        model = PersonalDataAccess
        fields = ["id", "case", "tracking_number", "user", "username", "fields", "reason", "channel", "ip", "at"]
