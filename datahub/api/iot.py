"""IoT API: devices, datastreams (series, export, latest), HTTP batch ingest, ingest monitor."""

import csv
from datetime import datetime, timedelta

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import authentication, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cityos.api.exceptions import ApiError
from cityos.api.permissions import HasRole
from cityos.roles import Role
from datahub.filtersets import DatastreamFilter, DeviceFilter
from datahub.models import Device, IngestBatch
from datahub.selectors import iot as sel
from datahub.services import iot_devices, iot_ingest, iot_lineage

from .serializers_iot import (
    DatastreamSerializer,
    DatastreamWriteSerializer,
    DeviceSerializer,
    DeviceWriteSerializer,
    IngestBatchSerializer,
)

DEVICE_ADMINS = HasRole.of(Role.ADMINISTRATOR, Role.DEPARTMENT_OFFICER)
# ~500,000 JSON readings: one request stays one transaction of a few seconds at most.
MAX_INGEST_BODY_BYTES = 32 * 1024 * 1024


class DeviceAuthentication(authentication.BaseAuthentication):
    """`Authorization: Device <key>:<secret>` (the secret issued at registration)."""

    keyword = "Device"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(self.keyword + " "):
            return None
        key, sep, secret = header[len(self.keyword) + 1 :].strip().partition(":")
        if not sep:
            raise ApiError(
                "Device credentials must be `Device <key>:<secret>`.", code="authentication_failed", status=401
            )
        device = iot_devices.device_authenticate(key=key, secret=secret)
        if device is None:
            raise ApiError("Invalid device key or secret.", code="authentication_failed", status=401)
        from django.contrib.auth.models import AnonymousUser

        return (AnonymousUser(), device)

    def authenticate_header(self, request):
        return self.keyword


class IsDeviceOrUser(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, Device) or bool(request.user and request.user.is_authenticated)


class RawBodyParser(BaseParser):
    """Hands the body through untouched: the ingest service parses JSON, NDJSON and CSV itself."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


def _dt(raw: str | None, name: str, default: datetime) -> datetime:
    if not raw:
        return default
    value = parse_datetime(raw)
    if value is None:
        raise ApiError(
            f"{name} must be an ISO 8601 date-time", code="invalid_parameter", extra={"fields": {name: ["invalid"]}}
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


class DeviceViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = sel.device_list()
    filterset_class = DeviceFilter
    search_fields = ["key", "entity__name", "model"]
    ordering_fields = ["key", "last_seen_at", "created_at"]

    def get_serializer_class(self):
        return DeviceWriteSerializer if self.action == "create" else DeviceSerializer

    def get_permissions(self):
        if self.action in ("create", "update", "partial_update", "register_csv", "rotate_credential"):
            return [DEVICE_ADMINS()]
        return super().get_permissions()

    @extend_schema(
        responses={
            201: inline_serializer(
                "DeviceCreated",
                {"id": serializers.IntegerField(), "key": serializers.CharField(), "secret": serializers.CharField()},
            )
        }
    )
    def create(self, request, *args, **kwargs):
        ser = DeviceWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        streams = data.pop("datastreams", [])
        try:
            cred = iot_devices.device_register(**data)
            for s in streams:
                iot_devices.datastream_create(device_id=cred.device_id, **s)
        except iot_devices.RegistrationError as exc:
            raise ApiError(
                str(exc), code="invalid", extra={"fields": {exc.column or "non_field_errors": [str(exc)]}}
            ) from None
        return Response({"id": cred.device_id, "key": cred.key, "secret": cred.secret}, status=201)

    @extend_schema(
        request={"text/csv": OpenApiTypes.STR},
        responses={
            201: inline_serializer(
                "DevicesRegistered", {"created": serializers.IntegerField(), "credentials": serializers.ListField()}
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="register-csv", parser_classes=[RawBodyParser])
    def register_csv(self, request):
        """Bulk registration (all or nothing); the body is the CSV. The secrets are shown only here."""
        raw = request.data if isinstance(request.data, bytes) else b""
        try:
            creds = iot_devices.devices_register_csv(text=raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ApiError("the CSV is not UTF-8", code="invalid_csv") from None
        except iot_devices.RegistrationError as exc:
            raise ApiError(str(exc), code="invalid_csv", extra={"row": exc.row, "column": exc.column}) from None
        return Response(
            {
                "created": len(creds),
                "credentials": [{"id": c.device_id, "key": c.key, "secret": c.secret} for c in creds],
            },
            status=201,
        )

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer("DeviceSecret", {"key": serializers.CharField(), "secret": serializers.CharField()})
        },
    )
    @action(detail=True, methods=["post"], url_path="rotate-credential")
    def rotate_credential(self, request, pk=None):
        device = self.get_object()
        cred = iot_devices.device_credential_rotate(device_id=device.id)
        return Response({"key": cred.key, "secret": cred.secret})


SERIES_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="default: end - 1 day"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="default: now"),
    OpenApiParameter("resolution", OpenApiTypes.STR, enum=["auto", *sel.RESOLUTIONS]),
    OpenApiParameter("after", OpenApiTypes.DATETIME, description="cursor: the `next_after` of the previous page"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="points per page (max 10000)"),
]


class DatastreamViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = sel.datastream_list()
    serializer_class = DatastreamSerializer
    filterset_class = DatastreamFilter
    search_fields = ["metric", "observed_property", "device__key"]
    ordering_fields = ["id", "metric"]

    def get_serializer_class(self):
        return DatastreamWriteSerializer if self.action == "create" else DatastreamSerializer

    def get_permissions(self):
        if self.action == "create":
            return [DEVICE_ADMINS()]
        return super().get_permissions()

    def create(self, request, *args, **kwargs):
        ser = DatastreamWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            ds = iot_devices.datastream_create(**ser.validated_data)
        except iot_devices.RegistrationError as exc:
            raise ApiError(str(exc), code="invalid", extra={"fields": {exc.column: [str(exc)]}}) from None
        return Response(DatastreamSerializer(ds).data, status=201)

    def _span(self, request, ds):
        end = _dt(request.query_params.get("end"), "end", timezone.now())
        start = _dt(request.query_params.get("start"), "start", end - timedelta(days=1))
        if start >= end:
            raise ApiError(
                "start must be before end", code="invalid_parameter", extra={"fields": {"start": ["after end"]}}
            )
        res = request.query_params.get("resolution", "auto")
        if res == "auto":
            res = sel.resolution_pick(start=start, end=end, expected_interval_s=ds.device.expected_interval_s)
        if res not in sel.RESOLUTIONS:
            raise ApiError(
                f"resolution must be one of auto, {', '.join(sel.RESOLUTIONS)}",
                code="invalid_parameter",
                extra={"fields": {"resolution": ["invalid"]}},
            )
        return start, end, res

    @extend_schema(parameters=SERIES_PARAMS, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def series(self, request, pk=None):
        """Raw readings or minute/hour/day rollups (count, mean, min, max, sum), oldest first, keyset-paginated."""
        ds = self.get_object()
        start, end, res = self._span(request, ds)
        after = _dt(request.query_params.get("after"), "after", None) if request.query_params.get("after") else None
        try:
            limit = max(1, min(int(request.query_params.get("limit", 5000)), 10_000))
        except ValueError:
            raise ApiError(
                "limit must be an integer", code="invalid_parameter", extra={"fields": {"limit": ["invalid"]}}
            ) from None
        page = sel.series(datastream_id=ds.id, start=start, end=end, resolution=res, after=after, limit=limit)
        next_url = None
        if page.next_after is not None:
            q = request.query_params.copy()
            q["after"] = page.next_after.isoformat()
            q["resolution"] = res
            q["start"], q["end"] = start.isoformat(), end.isoformat()
            next_url = request.build_absolute_uri(request.path + "?" + q.urlencode())
        return Response(
            {
                "datastream": ds.id,
                "resolution": res,
                "start": start,
                "end": end,
                "unit": ds.unit,
                "next": next_url,
                "next_after": page.next_after,
                "points": page.points,
            }
        )

    @extend_schema(parameters=SERIES_PARAMS[:3], responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        """The history as CSV (streamed: any span, constant memory)."""
        ds = self.get_object()
        start, end, res = self._span(request, ds)

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        header = ["time", "value"] if res == "raw" else ["bucket", "count", "mean", "min", "max", "sum"]

        def rows():
            yield writer.writerow(header)
            for row in sel.history_rows(datastream_id=ds.id, start=start, end=end, resolution=res):
                yield writer.writerow(row)

        resp = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{ds.device.key}-{ds.metric}-{res}.csv"'
        return resp

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "time", OpenApiTypes.DATETIME, required=True, description="the reading's exact time (as in `series`)"
            )
        ],
        responses={
            200: inline_serializer(
                "ObservationLineage",
                {"source": serializers.CharField(allow_null=True), "run_id": serializers.IntegerField(allow_null=True)},
            ),
            404: OpenApiTypes.OBJECT,
        },
    )
    @action(detail=True, methods=["get"])
    def lineage(self, request, pk=None):
        """Where the reading at `time` came from: its source's code and the run that stored it."""
        ds = self.get_object()
        if not request.query_params.get("time"):
            raise ApiError("time is required", code="invalid_parameter", extra={"fields": {"time": ["required"]}})
        when = _dt(request.query_params.get("time"), "time", None)
        found = sel.observation_lineage(datastream_id=ds.id, time=when)
        if found is None:
            raise ApiError(f"datastream {ds.id} has no reading at {when.isoformat()}", code="not_found", status=404)
        return Response(found)

    @extend_schema(
        parameters=[
            OpenApiParameter("ids", OpenApiTypes.STR, description="comma-separated datastream ids (max 10000)")
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def latest(self, request):
        """Newest value of each datastream named: {"latest": {"<id>": {"time", "value"}}}."""
        raw = request.query_params.get("ids", "")
        try:
            ids = [int(x) for x in raw.split(",") if x.strip()][:10_000]
        except ValueError:
            raise ApiError(
                "ids must be comma-separated integers", code="invalid_parameter", extra={"fields": {"ids": ["invalid"]}}
            ) from None
        vals = sel.latest_values(datastream_ids=ids)
        return Response({"latest": {str(k): {"time": t, "value": v} for k, (t, v) in vals.items()}})


class ObservationIngestView(APIView):
    """HTTP batch ingest: a JSON array, NDJSON or CSV of readings.

    Authenticate with `Authorization: Device <key>:<secret>` (readings of that device only) or
    an API token. Each reading: `datastream` id, or `device` key + `metric`; `time` (ISO 8601
    with offset, or epoch seconds) and `value`. Valid readings are stored (a resend of the same
    datastream and time is ignored: first write wins); each bad one is listed with its index,
    field and reason.
    """

    authentication_classes = [
        DeviceAuthentication,
        authentication.TokenAuthentication,
        authentication.SessionAuthentication,
    ]
    permission_classes = [IsDeviceOrUser]
    parser_classes = [RawBodyParser]

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/x-ndjson": OpenApiTypes.STR,
            "text/csv": OpenApiTypes.STR,
        },
        responses={
            200: inline_serializer(
                "IngestResult",
                {
                    "received": serializers.IntegerField(),
                    "stored": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "rejected": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_INGEST_BODY_BYTES:
            raise ApiError(
                f"body of {length} bytes exceeds {MAX_INGEST_BODY_BYTES} bytes; send smaller batches",
                code="body_too_large",
                status=413,
            )
        body = request.data if isinstance(request.data, bytes) else b""
        try:
            records, parse_errors = iot_ingest.parse_body(body=body, content_type=request.content_type)
        except iot_ingest.BodyError as exc:
            raise ApiError(str(exc), code="invalid_body") from None
        device = request.auth if isinstance(request.auth, Device) else None
        source_id, run_id = iot_lineage.http_day_run()
        result = iot_ingest.observations_ingest(
            records=records, device=device, parse_errors=parse_errors, source_id=source_id, run_id=run_id
        )
        iot_lineage.run_counts_add(run_id=run_id, read=result.received, stored=result.stored, rejected=result.rejected)
        data = {
            "received": result.received,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "errors": result.errors,
        }
        if result.received and result.rejected == result.received:
            return Response(
                {"error": {"code": "no_valid_readings", "message": "no reading was valid; see errors", **data}},
                status=400,
            )
        return Response(data)


class IngestBatchViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = IngestBatch.objects.order_by("-committed_at", "-id")
    serializer_class = IngestBatchSerializer
    filterset_fields = ["channel"]

    @extend_schema(parameters=[OpenApiParameter("minutes", OpenApiTypes.INT)], responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def summary(self, request):
        """Ingest monitor figures: per channel rates, errors and lag, and a per-minute series."""
        try:
            minutes = max(1, min(int(request.query_params.get("minutes", 15)), 24 * 60))
        except ValueError:
            raise ApiError("minutes must be an integer", code="invalid_parameter") from None
        return Response(sel.ingest_monitor(minutes=minutes))
