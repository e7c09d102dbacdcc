"""Query parameters of the search API, validated into a SearchRequest (errors name the field)."""

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from .selectors import SearchRequest

IGNORABLE = {"kind", "area", "time", "category", "status"}


def _floats(value: str, n: int, name: str) -> list[float]:
    try:
        parts = [float(x) for x in value.split(",")]
    except ValueError:
        raise serializers.ValidationError({name: f"expected {n} comma-separated numbers"}) from None
    if len(parts) != n or not all(abs(p) < 1e6 for p in parts):
        raise serializers.ValidationError({name: f"expected {n} comma-separated numbers"})
    return parts


def _when(value: str, name: str) -> datetime:
    dt = parse_datetime(value) if "T" in value or " " in value else None
    if dt is None:
        try:
            d = parse_date(value)
        except ValueError:
            d = None
        if d is None:
            raise serializers.ValidationError({name: "expected a date (YYYY-MM-DD) or an ISO datetime"})
        dt = datetime(d.year, d.month, d.day)  # noqa: DTZ001 - made aware just below
    return dt if timezone.is_aware(dt) else timezone.make_aware(dt)


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    kind = serializers.CharField(required=False, allow_blank=True, default="")
    area = serializers.IntegerField(required=False, min_value=1)
    department = serializers.IntegerField(required=False, min_value=1)
    bbox = serializers.CharField(required=False)
    near = serializers.CharField(required=False)
    radius = serializers.FloatField(required=False, min_value=1, max_value=100_000, default=1000)
    since = serializers.CharField(required=False)
    until = serializers.CharField(required=False)
    category = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(required=False, choices=["open", "done", "overdue"])
    ignore = serializers.CharField(required=False, allow_blank=True, default="")
    page = serializers.IntegerField(required=False, min_value=1, max_value=500, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=50, default=20)

    def to_request(self) -> SearchRequest:
        d = self.validated_data
        req = SearchRequest(
            q=d["q"],
            kinds=[k for k in d["kind"].split(",") if k.strip()][:20],
            area_id=d.get("area"),
            department_id=d.get("department"),
            radius=d["radius"],
            category=d.get("category"),
            status=d.get("status"),
            ignore={x for x in d["ignore"].split(",") if x in IGNORABLE},
            page=d["page"],
            page_size=d["page_size"],
        )
        if d.get("bbox"):
            x0, y0, x1, y1 = _floats(d["bbox"], 4, "bbox")
            if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
                raise serializers.ValidationError({"bbox": "expected min_lon,min_lat,max_lon,max_lat in WGS84"})
            req.bbox = (x0, y0, x1, y1)
        if d.get("near"):
            lon, lat = _floats(d["near"], 2, "near")
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise serializers.ValidationError({"near": "expected lon,lat in WGS84"})
            req.near = (lon, lat)
        if d.get("since"):
            req.since = _when(d["since"], "since")
        if d.get("until"):
            req.until = _when(d["until"], "until")
        return req


class SuggestParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=20, default=8)
