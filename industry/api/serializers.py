from decimal import Decimal

from rest_framework import serializers

from industry.models import Appeal, Enterprise, Grant, IndustryCode, Licence, Match, Park, Policy, Tag
from industry.permissions import sees_personal_data


class IndustryErrorSerializer(serializers.Serializer):
    """{"error": {"code", "message", "fields"?, "existing_id"?, "errors"?}}"""

    error = serializers.DictField()


class IndustryCodeSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.code", default=None, read_only=True)

    class Meta:
        model = IndustryCode
        fields = ["code", "level", "parent", "name", "name_en"]


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["code", "name", "name_en"]


class LicenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Licence
        fields = ["id", "type", "number", "valid_from", "valid_to"]


class LicenceInputSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=100)
    number = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)


class EnterpriseListSerializer(serializers.ModelSerializer):
    industry_code = serializers.CharField(read_only=True)
    tags = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()
    legal_representative = serializers.SerializerMethodField()

    class Meta:
        model = Enterprise
        fields = [
            "id",
            "entity",
            "name",
            "name_en",
            "uscc",
            "legal_representative",
            "registered_capital",
            "founded_on",
            "status",
            "industry_code",
            "section_code",
            "size",
            "tags",
            "address",
            "lon",
            "lat",
            "area",
            "park",
            "located",
            "locate_reason",
            "department",
            "risk_score",
            "risk_level",
            "created_at",
        ]

    def get_lon(self, obj) -> float | None:
        return obj.location.x if obj.location else None

    def get_lat(self, obj) -> float | None:
        return obj.location.y if obj.location else None

    def get_legal_representative(self, obj) -> str:
        user = self.context["request"].user if "request" in self.context else None
        name = obj.legal_representative
        return name if sees_personal_data(user, obj) else (name[:1] + "*" * max(1, len(name) - 1) if name else "")


_BOUND = Decimal("9999999999")


class EnterpriseCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    uscc = serializers.CharField(max_length=40, help_text="18 characters, GB 32100-2015 check digit")
    name_en = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    legal_representative = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    registered_capital = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        min_value=Decimal(0),
        max_value=_BOUND,
    )
    founded_on = serializers.DateField(required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(choices=Enterprise.Status.choices, required=False, default="active")
    industry_code = serializers.CharField(max_length=8, required=False, default="", allow_blank=True)
    size = serializers.ChoiceField(choices=Enterprise.Size.choices, required=False, default="", allow_blank=True)
    address = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    lon = serializers.FloatField(required=False, allow_null=True, default=None, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, allow_null=True, default=None, min_value=-90, max_value=90)
    department = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**31 - 1
    )
    land_mu = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        min_value=Decimal(0),
        max_value=Decimal("99999999"),
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, max_length=20
    )
    licences = LicenceInputSerializer(many=True, required=False, default=list, max_length=50)

    def validate_founded_on(self, value):
        if value is not None and not (1800 <= value.year <= 2200):
            raise serializers.ValidationError("not a plausible founding date")
        return value


class EnterpriseUpdateSerializer(EnterpriseCreateSerializer):
    name = serializers.CharField(max_length=300, required=False)
    uscc = None

    def to_internal_value(self, data):
        out = super().to_internal_value(data)
        return {k: v for k, v in out.items() if k in (data or {})}


class MatchSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    criteria = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="one entry per criterion: {criterion, kind, met: true|false|null, value}",
    )

    class Meta:
        model = Match
        fields = ["enterprise", "enterprise_name", "policy", "status", "criteria", "computed_at"]


class PolicyForMeSerializer(serializers.ModelSerializer):
    title = serializers.CharField(source="policy.title", read_only=True)
    title_en = serializers.CharField(source="policy.title_en", read_only=True)
    benefit = serializers.CharField(source="policy.benefit", read_only=True)
    automatic = serializers.BooleanField(source="policy.automatic", read_only=True)
    criteria = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = Match
        fields = ["policy", "title", "title_en", "benefit", "automatic", "status", "criteria", "computed_at"]


class CriterionSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=16)
    codes = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=200)
    area_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    park_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    metric = serializers.CharField(max_length=16, required=False, allow_blank=True)
    measure = serializers.CharField(max_length=8, required=False, allow_blank=True)
    op = serializers.CharField(max_length=4, required=False, allow_blank=True)
    number = serializers.FloatField(required=False, allow_null=True, min_value=-1e12, max_value=1e12)


class PolicySerializer(serializers.ModelSerializer):
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = [
            "id",
            "code",
            "title",
            "title_en",
            "text",
            "text_en",
            "benefit",
            "benefit_en",
            "amount",
            "department",
            "valid_from",
            "valid_to",
            "status",
            "automatic",
            "reference_year",
            "matched_at",
            "criteria",
        ]

    def get_criteria(self, obj) -> list[dict]:
        return [
            {
                "id": c.id,
                "kind": c.kind,
                "codes": c.codes,
                "area_id": c.area_id,
                "park_id": c.park_id,
                "metric": c.metric,
                "measure": c.measure,
                "op": c.op,
                "number": c.number,
            }
            for c in obj.criteria.all()
        ]


class PolicyWriteSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=60)
    title = serializers.CharField(max_length=300)
    title_en = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    text = serializers.CharField(max_length=50000, required=False, default="", allow_blank=True)
    text_en = serializers.CharField(max_length=50000, required=False, default="", allow_blank=True)
    benefit = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    benefit_en = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        min_value=Decimal(0),
        max_value=Decimal("9999999999"),
    )
    department = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**31 - 1
    )
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(choices=Policy.Status.choices, required=False, default="draft")
    automatic = serializers.BooleanField(required=False, default=False)
    reference_year = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1990, max_value=2100
    )
    criteria = CriterionSerializer(many=True, required=False, max_length=30)


class PolicyUpdateSerializer(PolicyWriteSerializer):
    code = None

    def to_internal_value(self, data):
        out = super().to_internal_value(data)
        return {k: v for k, v in out.items() if k in (data or {})}


class ProposeSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20000)


class GrantSerializer(serializers.ModelSerializer):
    policy_title = serializers.CharField(source="policy.title", read_only=True)
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)

    class Meta:
        model = Grant
        fields = [
            "id",
            "policy",
            "policy_title",
            "enterprise",
            "enterprise_name",
            "status",
            "origin",
            "amount",
            "decided_at",
            "note",
            "created_at",
        ]


class GrantDecideSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62), min_length=1, max_length=5000
    )
    decision = serializers.ChoiceField(choices=["confirm", "reject"])
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class GrantApplySerializer(serializers.Serializer):
    policy = serializers.IntegerField(min_value=1, max_value=2**62)
    enterprise = serializers.IntegerField(min_value=1, max_value=2**62)


class AppealSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)

    class Meta:
        model = Appeal
        fields = [
            "id",
            "enterprise",
            "enterprise_name",
            "title",
            "description",
            "category",
            "status",
            "case_id",
            "tracking_number",
            "case_status",
            "department",
            "reply",
            "rating",
            "rating_comment",
            "created_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = fields


class AppealCreateSerializer(serializers.Serializer):
    enterprise = serializers.IntegerField(min_value=1, max_value=2**62)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000)
    category = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class AppealRateSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class ParkSerializer(serializers.ModelSerializer):
    class Meta:
        model = Park
        fields = ["id", "code", "name", "name_en", "area", "department", "land_mu", "capacity"]


class FileUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    on_error = serializers.ChoiceField(choices=["abort", "skip"], required=False, default="abort")


class EnterpriseDatasetImportSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(min_value=1, max_value=2**62)
    mapping = serializers.DictField(child=serializers.CharField(max_length=200))
    on_error = serializers.ChoiceField(choices=["abort", "skip"], required=False, default="abort")


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    counts = serializers.DictField()
    errors = serializers.ListField(child=serializers.DictField())
    unlocated = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()


class IndicatorRowSerializer(serializers.Serializer):
    uscc = serializers.CharField(max_length=40, required=False)
    enterprise_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    metric = serializers.CharField(max_length=16)
    period = serializers.ChoiceField(choices=["month", "quarter", "year"], default="month")
    period_start = serializers.DateField()
    value = serializers.FloatField(min_value=-1e13, max_value=1e13)


class IndicatorUploadSerializer(serializers.Serializer):
    rows = IndicatorRowSerializer(many=True, max_length=100_000)
