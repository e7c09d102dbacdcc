"""Query and response serializers of the analysis API. Every numeric and date input is bounded
(the schema is fuzzed); every response serializer says exactly what the view returns."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone
from rest_framework import serializers

from datahub.models import Area, Briefing, Situation

from . import selectors

MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2100, 1, 1)
MAX_ID = 2**31 - 1


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


def city_midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=selectors.city_tz())


class AreaField(serializers.IntegerField):
    def __init__(self, **kw):
        kw.setdefault("min_value", 1)
        kw.setdefault("max_value", MAX_ID)
        kw.setdefault("required", False)
        super().__init__(**kw)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not Area.objects.filter(id=value).exists():
            raise serializers.ValidationError("no area with this id")
        return value


class BoundedDateField(serializers.DateField):
    """A day between 2000-01-01 and 2100-01-01 (dates outside are refused with a 400)."""

    def to_internal_value(self, value):
        d = super().to_internal_value(value)
        if not MIN_DAY <= d <= MAX_DAY:
            raise serializers.ValidationError(f"must be between {MIN_DAY} and {MAX_DAY}")
        return d


class WindowQuerySerializer(serializers.Serializer):
    """`from` and `to` are days in the city's time zone; `to` is inclusive."""

    area = AreaField(help_text="an area id: counts include its sub-areas")
    from_ = BoundedDateField(required=False, help_text="first day")
    to = BoundedDateField(required=False, help_text="last day (inclusive)")

    max_days = 3 * 366
    default_days = 90

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def window(self, attrs):
        today = timezone.localdate()
        last = attrs.get("to") or today
        first = attrs.get("from") or (last - timedelta(days=self.default_days - 1))
        if first > last:
            raise serializers.ValidationError({"from": "must not be after to"})
        if (last - first).days + 1 > self.max_days:
            raise serializers.ValidationError({"from": f"the window may span at most {self.max_days} days"})
        attrs["since"] = city_midnight(first)
        attrs["until"] = city_midnight(last + timedelta(days=1))
        return attrs


class TrendQuerySerializer(WindowQuerySerializer):
    series = serializers.CharField(
        max_length=130,
        help_text="event:<type> (a type or a prefix ending in *, e.g. event:case.*) or datastream:<id>[:mean|min|max|sum|count]",
    )
    category = serializers.CharField(required=False, max_length=64, help_text="event payload category (case.* events)")
    bucket = serializers.ChoiceField(choices=["day", "hour"], default="day")
    horizon = serializers.IntegerField(default=14, min_value=1, max_value=60, help_text="forecast steps (buckets)")

    def validate_series(self, value):
        try:
            spec = selectors.parse_series(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        if spec.kind == "datastream" and not selectors.datastream_exists(spec.datastream_id):
            raise serializers.ValidationError("no datastream with this id")
        return spec

    def validate(self, attrs):
        attrs = self.window(attrs)
        span = attrs["until"] - attrs["since"]
        if attrs["bucket"] == "hour" and span > timedelta(days=92):
            raise serializers.ValidationError({"from": "hourly series may span at most 92 days"})
        spec = attrs["series"]
        if attrs.get("category") and spec.kind != "event":
            raise serializers.ValidationError({"category": "only event series have a category"})
        attrs["series"] = selectors.SeriesSpec(
            kind=spec.kind,
            type=spec.type,
            datastream_id=spec.datastream_id,
            stat=spec.stat,
            category=attrs.get("category", ""),
            area_id=attrs.get("area"),
        )
        return attrs


class TrendPointSerializer(serializers.Serializer):
    t = serializers.DateTimeField()
    value = serializers.FloatField(allow_null=True)
    trend = serializers.FloatField(allow_null=True)
    seasonal = serializers.FloatField(allow_null=True)
    resid = serializers.FloatField(allow_null=True)


class ForecastPointSerializer(serializers.Serializer):
    t = serializers.DateTimeField()
    mean = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class ChangePointSerializer(serializers.Serializer):
    t = serializers.DateTimeField()
    index = serializers.IntegerField()
    before = serializers.FloatField()
    after = serializers.FloatField()


class PeriodSerializer(serializers.Serializer):
    aggregate = serializers.ChoiceField(choices=["sum", "mean"])
    current = serializers.FloatField(allow_null=True)
    previous = serializers.FloatField(allow_null=True, help_text="the window before (环比)")
    change_pct = serializers.FloatField(allow_null=True)
    year_ago = serializers.FloatField(allow_null=True, help_text="the same window a year earlier (同比)")
    year_over_year_pct = serializers.FloatField(allow_null=True)


class TrendSerializer(serializers.Serializer):
    series = serializers.CharField()
    bucket = serializers.CharField()
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    seasonal_periods = serializers.ListField(child=serializers.IntegerField())
    points = TrendPointSerializer(many=True)
    forecast = ForecastPointSerializer(many=True)
    forecast_model = serializers.CharField()
    interval = serializers.FloatField()
    change_points = ChangePointSerializer(many=True)
    period_over_period = PeriodSerializer()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


def _event_type(value: str) -> str:
    try:
        return selectors.parse_series(f"event:{value}").type
    except ValueError as exc:
        raise serializers.ValidationError(str(exc).replace("event series need", "give")) from None


def parse_window(value: str) -> timedelta:
    import re

    m = re.fullmatch(r"(\d{1,4})([hd])", (value or "").strip())
    if not m:
        raise serializers.ValidationError("a duration like 7d or 12h")
    n, unit = int(m.group(1)), m.group(2)
    delta = timedelta(days=n) if unit == "d" else timedelta(hours=n)
    if not timedelta(hours=1) <= delta <= timedelta(days=366):
        raise serializers.ValidationError("between 1h and 366d")
    return delta


class HotspotQuerySerializer(serializers.Serializer):
    event = serializers.CharField(max_length=100, help_text="an event type or a prefix ending in *")
    category = serializers.CharField(required=False, max_length=64)
    area = AreaField(help_text="only events and cells inside this area")
    level = serializers.ChoiceField(
        choices=[c.value for c in Area.Level],
        default="grid",
        help_text="cells: the areas of this level; grid falls back to square cells of `cell` metres when no grid areas exist",
    )
    window = serializers.CharField(default="7d", max_length=6, help_text="window length, e.g. 7d or 12h")
    windows = serializers.IntegerField(
        default=1, min_value=1, max_value=12, help_text="consecutive windows (emerging hotspots)"
    )
    to = BoundedDateField(required=False, help_text="last day of the last window (inclusive); default today")
    cell = serializers.FloatField(
        default=500.0, min_value=100.0, max_value=20000.0, help_text="square cell size in metres"
    )
    permutations = serializers.IntegerField(default=999, min_value=0, max_value=9999)
    alpha = serializers.FloatField(default=0.05, min_value=0.001, max_value=0.2, help_text="false discovery rate")

    def validate_event(self, value):
        return _event_type(value)

    def validate_window(self, value):
        return parse_window(value)

    def validate(self, attrs):
        last = attrs.get("to") or timezone.localdate()
        attrs["until"] = city_midnight(last + timedelta(days=1))
        if attrs["window"] * attrs["windows"] > timedelta(days=3 * 366):
            raise serializers.ValidationError({"windows": "window × windows may span at most 3 years"})
        return attrs


class ClusterQuerySerializer(WindowQuerySerializer):
    event = serializers.CharField(max_length=100, help_text="an event type or a prefix ending in *")
    category = serializers.CharField(required=False, max_length=64)
    method = serializers.ChoiceField(choices=["dbscan", "hdbscan"], default="dbscan")
    eps = serializers.FloatField(default=300.0, min_value=10.0, max_value=10000.0, help_text="DBSCAN radius in metres")
    min_samples = serializers.IntegerField(default=10, min_value=2, max_value=1000)

    default_days = 30
    max_days = 366

    def validate_event(self, value):
        return _event_type(value)

    def validate(self, attrs):
        return self.window(attrs)


class HotspotPropertiesSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    counts = serializers.ListField(child=serializers.IntegerField(), help_text="per window, oldest first")
    z = serializers.FloatField(allow_null=True)
    p = serializers.FloatField(allow_null=True)
    q = serializers.FloatField(allow_null=True, help_text="Benjamini-Hochberg q-value")
    # "hot" | "cold" | "" ; emerging: "new" | "intensifying" | "persistent" | "diminishing" | "sporadic" | ""
    class_ = serializers.CharField()
    emerging = serializers.CharField()
    area_id = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    cell = serializers.ListField(child=serializers.IntegerField(), required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["class"] = fields.pop("class_")
        return fields


class GeometrySerializer(serializers.Serializer):
    type = serializers.CharField()
    coordinates = serializers.JSONField()


class HotspotFeatureSerializer(serializers.Serializer):
    type = serializers.CharField()
    geometry = GeometrySerializer()
    properties = HotspotPropertiesSerializer()


class HotspotSummarySerializer(serializers.Serializer):
    hot = serializers.IntegerField()
    cold = serializers.IntegerField()
    new = serializers.IntegerField()
    intensifying = serializers.IntegerField()
    persistent = serializers.IntegerField()
    diminishing = serializers.IntegerField()
    sporadic = serializers.IntegerField()


class HotspotCollectionSerializer(serializers.Serializer):
    type = serializers.CharField()
    event = serializers.CharField()
    cells = serializers.ChoiceField(choices=["areas", "grid"])
    cell_count = serializers.IntegerField()
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    windows = serializers.IntegerField()
    events = serializers.IntegerField()
    permutations = serializers.IntegerField()
    alpha = serializers.FloatField()
    summary = HotspotSummarySerializer()
    features = HotspotFeatureSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ClusterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    count = serializers.IntegerField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    radius_m = serializers.FloatField()


class ClusterResultSerializer(serializers.Serializer):
    clusters = ClusterSerializer(many=True)
    noise = serializers.IntegerField()
    points = serializers.IntegerField()


class EvidenceSerializer(serializers.Serializer):
    kind = serializers.CharField()
    event_id = serializers.IntegerField(allow_null=True)
    type = serializers.CharField()
    at = serializers.DateTimeField()
    score = serializers.FloatField()
    label = serializers.CharField()
    label_en = serializers.CharField()
    object_ref = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    detail = serializers.DictField(required=False)


class SituationSerializer(serializers.ModelSerializer):
    area_name = serializers.CharField(source="area.name", read_only=True, allow_null=True, default=None)
    evidence = EvidenceSerializer(many=True, read_only=True)
    kinds = serializers.ListField(child=serializers.CharField(), read_only=True)
    severity_label = serializers.CharField(source="get_severity_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Situation
        fields = [
            "id",
            "area",
            "area_name",
            "window_start",
            "window_end",
            "kinds",
            "evidence",
            "score",
            "severity",
            "severity_label",
            "summary",
            "summary_en",
            "status",
            "status_label",
            "verdict_at",
            "verdict_note",
            "detected_at",
        ]
        read_only_fields = fields


class VerdictSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["confirmed", "dismissed"])
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class SituationQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "confirmed", "dismissed"], required=False)
    severity = serializers.ChoiceField(choices=["low", "medium", "high", "critical"], required=False)
    area = AreaField()


class DetectSerializer(serializers.Serializer):
    hours = serializers.IntegerField(default=24, min_value=1, max_value=168, help_text="window length ending now")


class SignalWeightSerializer(serializers.Serializer):
    kind = serializers.CharField()
    weight = serializers.FloatField()
    confirmed = serializers.IntegerField()
    dismissed = serializers.IntegerField()


class BriefingSerializer(serializers.ModelSerializer):
    html_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    content = serializers.DictField(read_only=True, help_text="the figures (empty until ready)")

    class Meta:
        model = Briefing
        fields = [
            "id",
            "day",
            "status",
            "status_label",
            "progress",
            "content",
            "error",
            "created_at",
            "generated_at",
            "emailed_at",
            "html_url",
            "pdf_url",
        ]
        read_only_fields = fields

    def get_html_url(self, obj) -> str:
        return f"/analysis/briefings/{obj.id}/"

    def get_pdf_url(self, obj) -> str:
        return f"/analysis/briefings/{obj.id}/pdf/"


class BriefingListSerializer(BriefingSerializer):
    class Meta(BriefingSerializer.Meta):
        fields = [f for f in BriefingSerializer.Meta.fields if f != "content"]
        read_only_fields = fields


class BriefingRequestSerializer(serializers.Serializer):
    day = BoundedDateField(help_text="the day to report on (city time)")

    def validate_day(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("a briefing reports on a past day or today")
        return value


class BBoxField(serializers.CharField):
    """west,south,east,north in WGS84 degrees."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            w, s_, e, n = (float(v) for v in text.split(","))
        except ValueError:
            raise serializers.ValidationError("bbox is west,south,east,north") from None
        if not (-180 <= w < e <= 180 and -90 <= s_ < n <= 90):
            raise serializers.ValidationError(
                "bbox must be inside -180..180, -90..90 with west < east and south < north"
            )
        return (w, s_, e, n)


class CockpitLayerQuerySerializer(serializers.Serializer):
    layer = serializers.ChoiceField(
        choices=["cases", "alerts", "risks", "sensors", "situations", "entity:enterprise", "entity:facility"]
    )
    zoom = serializers.IntegerField(default=11, min_value=0, max_value=20)
    bbox = BBoxField(required=False, max_length=100)
    hours = serializers.IntegerField(
        default=24, min_value=1, max_value=24 * 90, help_text="how far back (the wall display shows the last day)"
    )
    area = AreaField()


class CockpitKpiQuerySerializer(serializers.Serializer):
    area = AreaField()


class PointFeatureSerializer(serializers.Serializer):
    type = serializers.CharField()
    geometry = GeometrySerializer()
    properties = serializers.DictField()


class LayerSerializer(serializers.Serializer):
    type = serializers.CharField()
    layer = serializers.CharField()
    clustered = serializers.BooleanField()
    truncated = serializers.BooleanField()
    features = PointFeatureSerializer(many=True)


class KpiTrendSerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.CharField())
    cases = serializers.ListField(child=serializers.IntegerField())
    alerts = serializers.ListField(child=serializers.IntegerField())


class KpiSerializer(serializers.Serializer):
    day = serializers.CharField()
    cases_received = serializers.IntegerField()
    cases_closed = serializers.IntegerField()
    cases_overdue = serializers.IntegerField()
    alerts_active = serializers.IntegerField()
    situations_open = serializers.IntegerField()
    negative_posts = serializers.IntegerField()
    trend = KpiTrendSerializer()


EXPORT = serializers.ChoiceField(choices=["json", "csv"], default="json", help_text="csv: a CSV download")


class RegionStatsQuerySerializer(WindowQuerySerializer):
    event = serializers.CharField(required=False, max_length=100, help_text="an event type or prefix*; or give metric")
    metric = serializers.SlugField(required=False, max_length=64, help_text="a datastream metric, e.g. pm25")
    category = serializers.CharField(required=False, max_length=64)
    level = serializers.ChoiceField(choices=[c.value for c in Area.Level], default="district")
    bucket = serializers.ChoiceField(choices=["hour", "day", "week", "month"], default="day")
    export = EXPORT

    max_days = 366
    default_days = 30

    def validate_event(self, value):
        return _event_type(value)

    def validate(self, attrs):
        if bool(attrs.get("event")) == bool(attrs.get("metric")):
            raise serializers.ValidationError({"event": "give either event or metric"})
        return self.window(attrs)


class RegionStatRowSerializer(serializers.Serializer):
    area_id = serializers.IntegerField()
    area_code = serializers.CharField()
    area_name = serializers.CharField()
    bucket = serializers.DateTimeField()
    count = serializers.FloatField()
    sum = serializers.FloatField(required=False, allow_null=True)
    mean = serializers.FloatField(required=False, allow_null=True)
    min = serializers.FloatField(required=False, allow_null=True)
    max = serializers.FloatField(required=False, allow_null=True)


class KnnQuerySerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    k = serializers.IntegerField(default=10, min_value=1, max_value=500)
    type = serializers.CharField(required=False, max_length=32, help_text="entity type, e.g. enterprise")
    max_distance = serializers.FloatField(required=False, min_value=1, max_value=200_000, help_text="metres")
    export = EXPORT


class KnnRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    name = serializers.CharField()
    area_id = serializers.IntegerField(allow_null=True)
    distance_m = serializers.FloatField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()


class WindowJoinQuerySerializer(WindowQuerySerializer):
    left = serializers.CharField(max_length=100, help_text="event type or prefix*, e.g. case.received")
    right = serializers.CharField(max_length=100, help_text="event type or prefix*, e.g. alert.raised")
    distance = serializers.FloatField(default=500, min_value=1, max_value=50_000, help_text="metres")
    hours = serializers.FloatField(default=24, min_value=0.1, max_value=24 * 30)
    export = EXPORT

    max_days = 92
    default_days = 7

    def validate_left(self, value):
        return _event_type(value)

    def validate_right(self, value):
        return _event_type(value)

    def validate(self, attrs):
        return self.window(attrs)


class WindowJoinRowSerializer(serializers.Serializer):
    left_id = serializers.IntegerField()
    left_type = serializers.CharField()
    left_at = serializers.DateTimeField()
    right_id = serializers.IntegerField()
    right_type = serializers.CharField()
    right_at = serializers.DateTimeField()
    distance_m = serializers.FloatField()
    hours_after = serializers.FloatField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    area_id = serializers.IntegerField(allow_null=True)


class EfficiencyQuerySerializer(WindowQuerySerializer):
    family = serializers.ChoiceField(
        choices=["case", "appeal", "appointment", "grant", "industry", "livelihood"], required=False
    )
    export = EXPORT

    max_days = 366
    default_days = 30

    def validate(self, attrs):
        return self.window(attrs)


class DepartmentEfficiencySerializer(serializers.Serializer):
    family = serializers.CharField()
    department_id = serializers.IntegerField()
    department = serializers.CharField()
    rank = serializers.IntegerField()
    workload = serializers.IntegerField()
    finished = serializers.IntegerField()
    on_time_rate = serializers.FloatField(allow_null=True)
    mean_handling_hours = serializers.FloatField(allow_null=True)
    reopen_rate = serializers.FloatField()
    satisfaction = serializers.FloatField(allow_null=True)
    previous_on_time_rate = serializers.FloatField(allow_null=True)
    previous_workload = serializers.IntegerField(allow_null=True)


class JobSerializer(serializers.Serializer):
    id = serializers.CharField()
    state = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    progress = serializers.FloatField()
    result = serializers.DictField(allow_null=True, help_text="the hotspots FeatureCollection when done")
