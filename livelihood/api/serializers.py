from rest_framework import serializers

from livelihood.models import (
    Appointment,
    Facility,
    FacilityType,
    LifeEvent,
    Notice,
    Office,
    Rating,
    RatingTarget,
    Report,
    ReportCategory,
    Service,
    ServiceVersion,
    Slot,
)
from livelihood.selectors import life_event_materials
from livelihood.services.notices import render_markdown
from livelihood.services.ratings import REASONS

# --- facilities -----------------------------------------------------------------------------------


class NearestQuerySerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    type = serializers.ChoiceField(choices=FacilityType.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    radius = serializers.FloatField(min_value=1, max_value=100_000, required=False, help_text="metres")
    open_now = serializers.BooleanField(default=False)
    area = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class NearestFacilitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    type = serializers.CharField()
    type_label = serializers.CharField(help_text="the type's label in the request's language")
    address = serializers.CharField()
    phone = serializers.CharField()
    area_id = serializers.IntegerField(allow_null=True)
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    distance_m = serializers.FloatField()


class ClusterQuerySerializer(serializers.Serializer):
    bbox = serializers.CharField(help_text="west,south,east,north")
    zoom = serializers.IntegerField(min_value=0, max_value=22)
    type = serializers.ChoiceField(choices=FacilityType.choices, required=False)

    def validate_bbox(self, value):
        try:
            w, s, e, n = (float(x) for x in value.split(","))
        except ValueError:
            raise serializers.ValidationError("four numbers: west,south,east,north") from None
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise serializers.ValidationError("west < east within ±180, south < north within ±90")
        return (w, s, e, n)


class ClusterSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    id = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    type = serializers.CharField(required=False)


class FacilitySerializer(serializers.ModelSerializer):
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()
    type_display = serializers.CharField(source="get_type_display", read_only=True)

    class Meta:
        model = Facility
        fields = [
            "id", "entity", "type", "type_display", "name", "name_en", "address", "phone", "lon", "lat", "area",
            "hours", "always_open", "accessibility", "services", "is_active",
        ]  # fmt: skip

    def get_lon(self, obj) -> float:
        return obj.point.x

    def get_lat(self, obj) -> float:
        return obj.point.y


class FacilityImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    type = serializers.ChoiceField(choices=FacilityType.choices)
    source = serializers.SlugField(max_length=64)


class ImportResultSerializer(serializers.Serializer):
    read = serializers.IntegerField()
    stored = serializers.IntegerField()
    created = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    run_id = serializers.IntegerField(allow_null=True)


# --- guide ----------------------------------------------------------------------------------------


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = [
            "id", "code", "name", "name_en", "department", "audience", "summary", "conditions", "materials", "steps",
            "fees", "legal_days", "promised_days", "mode", "locations", "hours", "legal_basis", "faq", "bookable",
            "status", "version", "published_at", "popularity",
        ]  # fmt: skip
        read_only_fields = ["status", "version", "published_at", "popularity"]
        extra_kwargs = {
            "code": {"validators": []},
            "legal_days": {"max_value": 3650},
            "promised_days": {"max_value": 3650},
        }


class ServiceVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceVersion
        fields = ["version", "data", "note", "created_at", "created_by"]


class LifeEventSerializer(serializers.ModelSerializer):
    services = serializers.SerializerMethodField()
    materials = serializers.SerializerMethodField()

    class Meta:
        model = LifeEvent
        fields = ["id", "code", "name", "name_en", "description", "services", "materials"]

    def get_services(self, obj) -> list[dict]:
        return [
            {"id": st.service_id, "code": st.service.code, "name": st.service.name, "name_en": st.service.name_en}
            for st in obj.steps.all()
        ]

    def get_materials(self, obj) -> list[dict]:
        return life_event_materials(obj)


# --- appointments ---------------------------------------------------------------------------------


class OfficeSerializer(serializers.ModelSerializer):
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()

    class Meta:
        model = Office
        fields = ["id", "code", "name", "name_en", "department", "address", "phone", "lon", "lat", "area", "services"]

    def get_lon(self, obj) -> float | None:
        return obj.point.x if obj.point else None

    def get_lat(self, obj) -> float | None:
        return obj.point.y if obj.point else None


class SlotSerializer(serializers.ModelSerializer):
    available = serializers.SerializerMethodField()

    class Meta:
        model = Slot
        fields = ["id", "office", "service", "starts_at", "ends_at", "capacity", "booked", "available"]

    def get_available(self, obj) -> int:
        return max(0, obj.capacity - obj.booked)


class BookingSerializer(serializers.Serializer):
    slot = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    office = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    starts_at = serializers.DateTimeField(required=False, help_text="with office: book the slot starting then")
    service = serializers.IntegerField(min_value=1, max_value=2**62)
    name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not attrs.get("slot") and not (attrs.get("office") and attrs.get("starts_at")):
            raise serializers.ValidationError({"slot": "give a slot, or an office and starts_at"})
        return attrs


class RescheduleSerializer(serializers.Serializer):
    slot = serializers.IntegerField(min_value=1, max_value=2**62)
    token = serializers.CharField(max_length=64, required=False, allow_blank=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CounterActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["check_in", "serve", "done", "no_show"])


class AppointmentSerializer(serializers.ModelSerializer):
    starts_at = serializers.DateTimeField(source="slot.starts_at", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True)
    office_name = serializers.CharField(source="office.name", read_only=True)
    cancel_reason_display = serializers.CharField(source="get_cancel_reason_display", read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id", "code", "slot", "office", "office_name", "service", "service_name", "starts_at", "name", "phone",
            "email", "status", "status_display", "queue_number", "created_at", "checked_in_at", "served_at",
            "cancelled_at", "cancel_reason", "cancel_reason_display", "cancel_note",
        ]  # fmt: skip


class BookedAppointmentSerializer(AppointmentSerializer):
    """The booking's answer: also the secret token that lets the booker cancel or move it without an account."""

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "token"]


# --- notices --------------------------------------------------------------------------------------


class NoticeSerializer(serializers.ModelSerializer):
    body_html = serializers.SerializerMethodField()

    class Meta:
        model = Notice
        fields = [
            "id", "department", "title", "title_en", "body", "body_en", "body_html", "areas", "publish_at",
            "expires_at", "pinned", "status",
        ]  # fmt: skip
        read_only_fields = ["status"]
        extra_kwargs = {"publish_at": {"required": False}, "title": {"max_length": 200}}

    def get_body_html(self, obj) -> str:
        return render_markdown(obj.body)


class NoticeQuerySerializer(serializers.Serializer):
    area = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class SubscriptionSerializer(serializers.Serializer):
    email = serializers.EmailField()
    area = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["published", "unpublished"])


# --- reports and ratings --------------------------------------------------------------------------


class ReportCreateSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=ReportCategory.choices)
    description = serializers.CharField(max_length=4000)
    lon = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    photo = serializers.FileField(required=False, allow_null=True, help_text="an image, at most 10 MB")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class ReportPublicSerializer(serializers.ModelSerializer):
    category_display = serializers.CharField(source="get_category_display", read_only=True)
    history = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "number", "category", "category_display", "description", "status", "case_number", "public_note",
            "history", "created_at", "closed_at",
        ]  # fmt: skip

    def get_history(self, obj) -> list[dict]:
        return [{"status": h.get("status", ""), "at": h.get("at", ""), "note": h.get("note", "")} for h in obj.history]


class ReportCreatedSerializer(ReportPublicSerializer):
    tracking_url = serializers.SerializerMethodField()

    class Meta(ReportPublicSerializer.Meta):
        fields = [*ReportPublicSerializer.Meta.fields, "token", "tracking_url"]

    def get_tracking_url(self, obj) -> str:
        return f"/portal/track/{obj.number}/?token={obj.token}"


class TrackQuerySerializer(serializers.Serializer):
    number = serializers.CharField(max_length=20)
    token = serializers.CharField(max_length=64)


class RatingCreateSerializer(serializers.Serializer):
    target = serializers.ChoiceField(choices=RatingTarget.choices)
    score = serializers.IntegerField(min_value=1, max_value=5)
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=list(REASONS)), required=False, default=list, max_length=11
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    service = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    appointment = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    appointment_token = serializers.CharField(max_length=64, required=False, allow_blank=True)
    report = serializers.CharField(max_length=20, required=False, help_text="report number")
    report_token = serializers.CharField(max_length=64, required=False, allow_blank=True)


class RatingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rating
        fields = [
            "id", "target", "service", "appointment", "department", "area", "score", "reasons", "comment",
            "created_at", "rectification_number", "rectification_status", "reply", "replied_at",
        ]  # fmt: skip


class ReplySerializer(serializers.Serializer):
    reply = serializers.CharField(max_length=4000)


class DashboardSerializer(serializers.Serializer):
    totals = serializers.DictField()
    distribution = serializers.ListField(child=serializers.IntegerField())
    by_department = serializers.ListField(child=serializers.DictField())
    by_service = serializers.ListField(child=serializers.DictField())
