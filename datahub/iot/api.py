"""IoT API: devices, datastreams (series, export, latest), HTTP batch ingest, ingest monitor,
historical series file imports.

Devices and datastreams follow department scoping (datahub.iot.selectors: city-wide roles see
all; others their department's subtree and unowned devices; writes only within what they manage).
"""

import csv
from datetime import datetime, timedelta

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import authentication, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cityos.api.exceptions import ApiError
from cityos.api.fields import parse_bounded_datetime
from cityos.api.permissions import HasRole, IsStaffRole
from cityos.roles import Role
from cityos.scoping import visible_department_ids
from datahub.core.files import ImportFileError
from datahub.iot import selectors as sel
from datahub.iot.filtersets import DatastreamFilter, DeviceFilter
from datahub.iot.models import Device, IngestBatch
from datahub.iot.serializers import (
    DatastreamSerializer,
    DatastreamWriteSerializer,
    DeviceSerializer,
    DeviceWriteSerializer,
    IngestBatchSerializer,
    SeriesImportSerializer,
    SeriesMappingSerializer,
    SeriesUploadSerializer,
)
from datahub.iot.services import devices as iot_devices
from datahub.iot.services import ingest as iot_ingest
from datahub.iot.services import lineage as iot_lineage
from datahub.iot.services import series_imports as series_svc

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
    value = parse_bounded_datetime(raw)
    if value is None:
        raise ApiError(
            f"{name} must be an ISO 8601 date-time in years 1900–2200 with an offset within ±14:00",
            code="invalid_parameter",
            extra={"fields": {name: ["invalid"]}},
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _forbidden(message: str) -> ApiError:
    return ApiError(message, code="permission_denied", status=403)


def _check_owner(request, department_id: int | None) -> int | None:
    """The owner department a write may set: an officer's default is their own department."""
    user = request.user
    if department_id is None and not (user.is_superuser or user.role == Role.ADMINISTRATOR):
        department_id = user.department_id
    if not sel.department_can_own(user, department_id):
        raise _forbidden(
            f"you may not make department {department_id} the owner of a device"
            if department_id
            else "a device you register needs an owner department within your scope"
        )
    return department_id


def _broker_state(device_id: int) -> dict:
    """Whether the MQTT broker took the change (pushed after commit; the reconcile job retries)."""
    device = Device.objects.only("broker_revision", "broker_synced_revision", "broker_error").get(id=device_id)
    return {"broker_synced": device.broker_synced, "broker_error": device.broker_error}


class DeviceViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    queryset = sel.device_list()
    filterset_class = DeviceFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return sel.device_list().none()
        return sel.devices_visible_to(self.request.user)

    def _managed(self) -> Device:
        device = self.get_object()
        if not sel.device_can_manage(self.request.user, device):
            raise _forbidden("this device belongs to a department outside your scope")
        return device

    def perform_update(self, serializer):
        self._managed()
        if "owner_department" in serializer.validated_data:
            dept = serializer.validated_data["owner_department"]
            _check_owner(self.request, dept.id if dept else None)
        # Switching a device off goes to the broker too (see iot_devices.device_update).
        try:
            serializer.instance = iot_devices.device_update(
                device_id=serializer.instance.id, **serializer.validated_data
            )
        except iot_devices.RegistrationError as exc:
            raise ApiError(str(exc), code="invalid", extra={"fields": {exc.column: [str(exc)]}}) from None

    def perform_destroy(self, instance):
        """Delete the device and its datastreams; its MQTT client and role go at the broker."""
        self._managed()
        iot_devices.device_delete(device_id=instance.id)

    search_fields = ["key", "entity__name", "model"]
    ordering_fields = ["key", "last_seen_at", "created_at"]

    def get_serializer_class(self):
        return DeviceWriteSerializer if self.action == "create" else DeviceSerializer

    def get_permissions(self):
        if self.action in ("create", "update", "partial_update", "destroy", "register_csv", "rotate_credential"):
            return [DEVICE_ADMINS()]
        return super().get_permissions()

    @extend_schema(
        responses={
            201: inline_serializer(
                "DeviceCreated",
                {
                    "id": serializers.IntegerField(),
                    "key": serializers.CharField(),
                    "secret": serializers.CharField(),
                    "broker_synced": serializers.BooleanField(),
                    "broker_error": serializers.CharField(),
                },
            )
        }
    )
    def create(self, request, *args, **kwargs):
        ser = DeviceWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        streams = data.pop("datastreams", [])
        data["owner_department_id"] = _check_owner(request, data.get("owner_department_id"))
        try:
            cred = iot_devices.device_register(**data)
            for s in streams:
                iot_devices.datastream_create(device_id=cred.device_id, **s)
        except iot_devices.RegistrationError as exc:
            raise ApiError(
                str(exc), code="invalid", extra={"fields": {exc.column or "non_field_errors": [str(exc)]}}
            ) from None
        return Response(
            {"id": cred.device_id, "key": cred.key, "secret": cred.secret, **_broker_state(cred.device_id)}, status=201
        )

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
        user = request.user
        officer = not (user.is_superuser or user.role == Role.ADMINISTRATOR)
        if officer and not user.department_id:
            raise _forbidden("a device you register needs an owner department within your scope")
        try:
            creds = iot_devices.devices_register_csv(
                text=raw.decode("utf-8-sig"),
                allowed_department_ids=visible_department_ids(user) if officer else None,
                default_department_id=user.department_id if officer else None,
            )
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
            200: inline_serializer(
                "DeviceSecret",
                {
                    "key": serializers.CharField(),
                    "secret": serializers.CharField(),
                    "broker_synced": serializers.BooleanField(),
                    "broker_error": serializers.CharField(),
                },
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="rotate-credential")
    def rotate_credential(self, request, pk=None):
        device = self._managed()
        cred = iot_devices.device_credential_rotate(device_id=device.id)
        return Response({"key": cred.key, "secret": cred.secret, **_broker_state(device.id)})


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

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return sel.datastream_list().none()
        return sel.datastreams_visible_to(self.request.user)

    def get_serializer_class(self):
        return DatastreamWriteSerializer if self.action == "create" else DatastreamSerializer

    def get_permissions(self):
        if self.action == "create":
            return [DEVICE_ADMINS()]
        return super().get_permissions()

    @extend_schema(request=DatastreamWriteSerializer, responses={201: DatastreamSerializer})
    def create(self, request, *args, **kwargs):
        ser = DatastreamWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        device = Device.objects.get(id=ser.validated_data["device_id"])
        if not sel.device_can_manage(request.user, device):
            raise _forbidden("this device belongs to a department outside your scope")
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
        ids = list(self.get_queryset().filter(id__in=ids).values_list("id", flat=True)) if ids else []
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
        # A user's token writes only into datastreams of devices the user manages (the rule of
        # file imports and device edits); a device credential only into its own datastreams.
        writable = None if device is not None else sel.datastream_write_check(request.user)
        source_id, run_id = iot_lineage.http_day_run()
        result = iot_ingest.observations_ingest(
            records=records,
            device=device,
            parse_errors=parse_errors,
            source_id=source_id,
            run_id=run_id,
            writable=writable,
        )
        iot_lineage.run_counts_add(run_id=run_id, read=result.received, stored=result.stored, rejected=result.rejected)
        data = {
            "received": result.received,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "errors": result.errors,
        }
        if result.errors and result.rejected == result.received:
            if all(e.get("reason", "").startswith("not permitted") for e in result.errors):
                raise _forbidden("you may not write readings into these datastreams (devices you do not manage)")
        if result.received and result.rejected == result.received:
            return Response(
                {"error": {"code": "no_valid_readings", "message": "no reading was valid; see errors", **data}},
                status=400,
            )
        return Response(data)


class IsCityWide(permissions.BasePermission):
    message = "only city-wide roles see individual ingest batches (their errors name every department's devices)"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_city_wide)


class IngestBatchViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = IngestBatch.objects.order_by("-committed_at", "-id")
    serializer_class = IngestBatchSerializer
    filterset_fields = ["channel"]

    def get_permissions(self):
        # The monitor's figures are for staff roles; the batches themselves for city-wide roles.
        if self.action == "summary":
            return [permissions.IsAuthenticated(), IsStaffRole()]
        return [permissions.IsAuthenticated(), IsCityWide()]

    @extend_schema(parameters=[OpenApiParameter("minutes", OpenApiTypes.INT)], responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def summary(self, request):
        """Ingest monitor figures: per channel rates, errors and lag, and a per-minute series."""
        try:
            minutes = max(1, min(int(request.query_params.get("minutes", 15)), 24 * 60))
        except ValueError:
            raise ApiError("minutes must be an integer", code="invalid_parameter") from None
        return Response(sel.ingest_monitor(minutes=minutes, with_errors=request.user.is_city_wide))


# --- historical series file imports -------------------------------------------------------------


def _series_error(e: series_svc.SeriesImportError) -> ApiError:
    extra = {"fields": {e.field: [e.message]}} if e.field else {}
    return ApiError(e.message, code=e.code, status=e.status, extra=extra)


class SeriesImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Historical series files: upload (preview), check a column mapping, confirm (runs in the
    worker, resumable), cancel. Progress: `GET …/{id}/` or the `datahub.run` live event."""

    serializer_class = SeriesImportSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return sel.series_imports_visible_to(None)
        return sel.series_imports_visible_to(self.request.user)

    def get_permissions(self):
        if self.action in ("create", "check", "confirm", "datastreams"):
            return [DEVICE_ADMINS()]
        return super().get_permissions()

    @extend_schema(request={"multipart/form-data": SeriesUploadSerializer}, responses={201: SeriesImportSerializer})
    def create(self, request, *args, **kwargs):
        """Upload a CSV: returns its header, first rows and a suggested mapping."""
        ser = SeriesUploadSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            imp = series_svc.series_import_preview(
                upload=ser.validated_data["file"],
                user=request.user,
                encoding=ser.validated_data["encoding"],
                delimiter=ser.validated_data["delimiter"],
            )
        except ImportFileError as e:
            raise ApiError(e.message, code=e.code, status=413 if e.code == "file_too_large" else 400) from None
        return Response(SeriesImportSerializer(imp).data, status=201)

    @extend_schema(
        request=SeriesMappingSerializer,
        responses={
            200: inline_serializer(
                "SeriesMappingCheck",
                {
                    "rows_checked": serializers.IntegerField(),
                    "readings": serializers.IntegerField(),
                    "rejected": serializers.IntegerField(),
                    "datastreams": serializers.ListField(child=serializers.IntegerField()),
                    "first_time": serializers.DateTimeField(allow_null=True),
                    "last_time": serializers.DateTimeField(allow_null=True),
                    "errors": serializers.ListField(child=serializers.DictField()),
                    "mapping": serializers.DictField(),
                },
            )
        },
    )
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Dry run of a mapping over the first 200 rows: readings it gives, bad cells by row and column."""
        imp = self.get_object()
        ser = SeriesMappingSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            return Response(
                series_svc.series_mapping_check(imp=imp, mapping=ser.validated_data["mapping"], user=request.user)
            )
        except series_svc.SeriesImportError as e:
            raise _series_error(e) from None

    @extend_schema(request=SeriesMappingSerializer, responses={202: SeriesImportSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Fix the mapping and run the import in the worker (a run of source `iot-file-import`)."""
        imp = self.get_object()
        if (
            imp.created_by_id != request.user.id
            and not request.user.is_superuser
            and request.user.role != Role.ADMINISTRATOR
        ):
            raise _forbidden("only the person who uploaded the file may confirm its import")
        ser = SeriesMappingSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            imp = series_svc.series_import_confirm(imp=imp, mapping=ser.validated_data["mapping"], user=request.user)
        except series_svc.SeriesImportError as e:
            raise _series_error(e) from None
        return Response(SeriesImportSerializer(imp).data, status=202)

    @extend_schema(
        request=None, responses={200: inline_serializer("SeriesCancel", {"cancelled": serializers.BooleanField()})}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the import (a running one before its next chunk; chunks already stored stay)."""
        imp = self.get_object()
        if not series_svc.series_import_cancel(imp=imp):
            raise ApiError(f"this import has already finished ({imp.status})", code="invalid_state", status=409)
        return Response({"cancelled": True})

    @extend_schema(
        responses={
            200: inline_serializer(
                "SeriesTargetStreams",
                {"results": serializers.ListField(child=serializers.DictField())},
            )
        }
    )
    @action(detail=False, methods=["get"])
    def datastreams(self, request):
        """The datastreams you may import into (wide columns map to these ids)."""
        return Response({"results": series_svc.datastreams_for_mapping(request.user)})
