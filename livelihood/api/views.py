"""`/api/v1/livelihood/`: thin viewsets over the services and selectors.

Public (no login): the guide, life events, facilities (nearest, clusters), offices, slots, current notices,
booking, reports and tracking, ratings. Anonymous calls are throttled (reads 300/min, writes 20/min per IP).
Staff writes are checked by one rule per resource (selectors.*_visible_to / service_can_edit).
"""

import secrets

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from cityos.api.exceptions import ApiError
from cityos.roles import STAFF_ROLES, Role
from cityos.scoping import can_see_department
from livelihood import selectors
from livelihood.models import (
    Appointment,
    Facility,
    LifeEvent,
    Office,
    PublishStatus,
    Report,
    Service,
    Slot,
)
from livelihood.services import appointments as appt_svc
from livelihood.services import facilities as fac_svc
from livelihood.services import guide, notices, ratings, reports
from livelihood.services.errors import LivelihoodError

from . import serializers as s

ERRORS = {
    400: OpenApiResponse(description="invalid input (the message names the field)"),
    403: OpenApiResponse(description="not allowed"),
    404: OpenApiResponse(description="not found"),
    429: OpenApiResponse(description="too many requests"),
}


# Object ids in paths: digits that fit a bigint (anything else is a 404 from the URL resolver, not a 500).
ID_REGEX = r"[0-9]{1,18}"


class AnonReadThrottle(AnonRateThrottle):
    scope = "livelihood_anon_read"
    rate = "300/min"


class AnonWriteThrottle(AnonRateThrottle):
    scope = "livelihood_anon_write"
    rate = "20/min"

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


PUBLIC_THROTTLES = [AnonReadThrottle, AnonWriteThrottle]


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in STAFF_ROLES))


def require_staff(user) -> None:
    if not is_staff(user):
        raise ApiError("only staff may do this", code="permission_denied", status=403)


def _citizen(user):
    return user if user.is_authenticated and getattr(user, "role", None) == Role.CITIZEN else None


# --- facilities -----------------------------------------------------------------------------------


class FacilityViewSet(viewsets.ReadOnlyModelViewSet):
    """Public facilities; `nearest/` and `clusters/` for the portal's map; staff import files."""

    lookup_value_regex = ID_REGEX

    serializer_class = s.FacilitySerializer
    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES
    filterset_fields = ["type", "area"]
    ordering_fields = ["name", "type"]

    def get_queryset(self):
        return Facility.objects.filter(is_active=True).order_by("type", "name", "id")

    @extend_schema(
        parameters=[s.NearestQuerySerializer],
        responses={200: s.NearestFacilitySerializer(many=True), **ERRORS},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def nearest(self, request):
        """The nearest facilities (of a type) to a point, nearest first; each with distance_m, lon and lat."""
        q = s.NearestQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        rows = selectors.facilities_nearest(
            lon=d["lon"],
            lat=d["lat"],
            type=d.get("type"),
            limit=d["limit"],
            radius_m=d.get("radius"),
            open_now=d["open_now"],
            area_id=d.get("area"),
        )
        return Response(rows)

    @extend_schema(parameters=[s.ClusterQuerySerializer], responses={200: s.ClusterSerializer(many=True), **ERRORS})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def clusters(self, request):
        """Facilities in a box grouped by screen cell at this zoom (a cell of one is the facility itself)."""
        q = s.ClusterQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        return Response(selectors.facility_clusters(bbox=d["bbox"], zoom=d["zoom"], type=d.get("type")))

    @extend_schema(
        request={"multipart/form-data": s.FacilityImportSerializer}, responses={200: s.ImportResultSerializer, **ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser],
            permission_classes=[IsAuthenticated], throttle_classes=[])  # fmt: skip
    def import_file(self, request):
        """Import facilities from a CSV or GeoJSON file (staff); the answer reports bad rows by row and column."""
        require_staff(request.user)
        ser = s.FacilityImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        upload = ser.validated_data["file"]
        if upload.size > 50 * 1024 * 1024:
            raise LivelihoodError("file: at most 50 MB", field="file")
        result = fac_svc.facility_import(
            data=upload.read(),
            filename=upload.name,
            type=ser.validated_data["type"],
            source_code=ser.validated_data["source"],
            department_id=request.user.department_id,
            actor_id=request.user.id,
        )
        return Response(result.as_dict())


# --- guide ----------------------------------------------------------------------------------------


class ServiceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    """The service guide: published services for everyone; department officers edit their department's."""

    lookup_value_regex = ID_REGEX

    serializer_class = s.ServiceSerializer
    throttle_classes = PUBLIC_THROTTLES
    filterset_fields = ["department", "audience", "mode", "bookable", "status"]
    ordering_fields = ["code", "popularity", "name"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_permissions(self):
        return [AllowAny()] if self.action in ("list", "retrieve") else [IsAuthenticated()]

    def get_queryset(self):
        qs = selectors.services_visible_to(self.request.user).order_by("code")
        q = self.request.query_params.get("q")
        if q and self.action == "list":
            qs = qs.filter(Q(name__icontains=q[:50]) | Q(name_en__icontains=q[:50]) | Q(code__iexact=q[:64]))
        return qs

    def _save(self, request, instance=None, partial=False):
        ser = s.ServiceSerializer(instance, data=request.data, partial=partial)
        ser.is_valid(raise_exception=True)
        d = dict(ser.validated_data)
        code = d.pop("code", None) or (instance.code if instance else None)
        if not code:
            raise LivelihoodError("code is required", field="code")
        dept = d.pop("department", None)
        if dept is not None:
            d["department_id"] = dept.id
        existing = instance or Service.objects.filter(code=code).first()
        if instance is None and existing is not None:
            raise LivelihoodError("code: a service with this code exists", field="code", status=409)
        target_dept = d.get("department_id") or (existing.department_id if existing else None)
        if not selectors.service_can_edit(request.user, existing, target_dept) or (
            existing and not selectors.service_can_edit(request.user, existing)
        ):
            raise ApiError("you may edit only your department's services", code="permission_denied", status=403)
        svc = guide.service_save(code=code, actor=request.user, **d)
        return Response(s.ServiceSerializer(svc).data, status=200 if instance else 201)

    @extend_schema(responses={201: s.ServiceSerializer, **ERRORS})
    def create(self, request, *args, **kwargs):
        return self._save(request)

    @extend_schema(responses={200: s.ServiceSerializer, **ERRORS})
    def update(self, request, *args, **kwargs):
        return self._save(request, self.get_object(), partial=kwargs.get("partial", False))

    @extend_schema(request=s.StatusSerializer, responses={200: s.ServiceSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Publish or unpublish the service."""
        svc = self.get_object()
        if not selectors.service_can_edit(request.user, svc):
            raise ApiError("you may publish only your department's services", code="permission_denied", status=403)
        ser = s.StatusSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        svc = guide.service_set_status(service_id=svc.id, status=ser.validated_data["status"], actor=request.user)
        return Response(s.ServiceSerializer(svc).data)

    @extend_schema(responses={200: s.ServiceVersionSerializer(many=True), **ERRORS})
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        svc = self.get_object()
        if not selectors.service_can_edit(request.user, svc):
            raise ApiError("versions are for the service's editors", code="permission_denied", status=403)
        return Response(s.ServiceVersionSerializer(svc.versions.all()[:100], many=True).data)


class LifeEventViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = ID_REGEX
    serializer_class = s.LifeEventSerializer
    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES

    def get_queryset(self):
        return (
            LifeEvent.objects.filter(status=PublishStatus.PUBLISHED)
            .prefetch_related("steps__service")
            .order_by("order", "code")
        )


# --- appointments ---------------------------------------------------------------------------------


class OfficeViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = ID_REGEX
    serializer_class = s.OfficeSerializer
    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES
    queryset = Office.objects.filter(is_active=True).prefetch_related("services").order_by("code")


class SlotViewSet(viewsets.ReadOnlyModelViewSet):
    """Future slots (filter by office, service, date)."""

    lookup_value_regex = ID_REGEX

    serializer_class = s.SlotSerializer
    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES
    filterset_fields = {"office": ["exact"], "service": ["exact"], "starts_at": ["date", "gte", "lt"]}

    def get_queryset(self):
        return Slot.objects.filter(starts_at__gt=timezone.now()).order_by("starts_at", "id")


class AppointmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Bookings: anyone books (full slot 409, past/outside hours 400); the booker cancels or moves it with the
    token they got; staff of the office's department see them and run the counter queue."""

    lookup_value_regex = ID_REGEX

    serializer_class = s.AppointmentSerializer
    throttle_classes = PUBLIC_THROTTLES
    filterset_fields = ["office", "service", "status"]
    ordering_fields = ["created_at"]

    def get_permissions(self):
        return [AllowAny()] if self.action in ("create", "cancel", "reschedule") else [IsAuthenticated()]

    def get_queryset(self):
        return selectors.appointments_visible_to(self.request.user).order_by("slot__starts_at", "id")

    def _own(self, request, pk, token):
        appt = get_object_or_404(Appointment, pk=pk)
        user = request.user
        mine = user.is_authenticated and appt.citizen_id == user.id
        staff = is_staff(user) and can_see_department(user, appt.office.department_id)
        if not (mine or staff or (token and secrets.compare_digest(appt.token, token))):
            raise ApiError("not found", code="not_found", status=404)
        return appt

    @extend_schema(
        request=s.BookingSerializer,
        responses={201: s.BookedAppointmentSerializer, 409: OpenApiResponse(description="slot full"), **ERRORS},
    )
    def create(self, request):
        ser = s.BookingSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        slot_id = d.get("slot")
        if not slot_id:
            slot = (
                Slot.objects.filter(office_id=d["office"], starts_at=d["starts_at"])
                .filter(Q(service_id=d["service"]) | Q(service__isnull=True))
                .first()
            )
            if slot is None:
                raise LivelihoodError(
                    "starts_at: outside the office's opening hours (no slot starts then)",
                    field="starts_at", code="outside_hours",
                )  # fmt: skip
            slot_id = slot.id
        appt = appt_svc.appointment_book(
            slot_id=slot_id, service_id=d["service"], name=d["name"], phone=d["phone"], email=d["email"],
            citizen=_citizen(request.user),
        )  # fmt: skip
        return Response(s.BookedAppointmentSerializer(appt).data, status=201)

    @extend_schema(
        request=s.TokenSerializer,
        responses={200: s.AppointmentSerializer, 409: OpenApiResponse(description="not cancellable"), **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        ser = s.TokenSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        appt = self._own(request, pk, ser.validated_data.get("token"))
        appt = appt_svc.appointment_cancel(
            appointment_id=appt.id, actor=request.user if request.user.is_authenticated else None
        )
        return Response(s.AppointmentSerializer(appt).data)

    @extend_schema(
        request=s.RescheduleSerializer,
        responses={200: s.AppointmentSerializer, 409: OpenApiResponse(description="slot full"), **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        ser = s.RescheduleSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        appt = self._own(request, pk, ser.validated_data.get("token"))
        appt = appt_svc.appointment_reschedule(
            appointment_id=appt.id, slot_id=ser.validated_data["slot"],
            actor=request.user if request.user.is_authenticated else None,
        )  # fmt: skip
        return Response(s.AppointmentSerializer(appt).data)

    @extend_schema(
        request=s.CounterActionSerializer,
        responses={200: s.AppointmentSerializer, 409: OpenApiResponse(description="wrong state"), **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def counter(self, request, pk=None):
        """The counter officer's step: check_in, serve, done, no_show."""
        require_staff(request.user)
        appt = self.get_object()
        ser = s.CounterActionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        appt = appt_svc.appointment_counter(
            appointment_id=appt.id, action=ser.validated_data["action"], actor=request.user
        )
        return Response(s.AppointmentSerializer(appt).data)


# --- notices --------------------------------------------------------------------------------------


class NoticeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    """Current notices for everyone (`?area=` adds that area's); staff manage their department's."""

    lookup_value_regex = ID_REGEX

    serializer_class = s.NoticeSerializer
    throttle_classes = PUBLIC_THROTTLES
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_permissions(self):
        return [AllowAny()] if self.action in ("list", "retrieve", "subscribe") else [IsAuthenticated()]

    def get_queryset(self):
        if is_staff(self.request.user):
            return (
                selectors.notices_visible_to(self.request.user).prefetch_related("areas").order_by("-publish_at", "id")
            )
        q = s.NoticeQuerySerializer(data=self.request.query_params)
        q.is_valid(raise_exception=True)
        return selectors.notices_current(area_id=q.validated_data.get("area")).prefetch_related("areas")

    @extend_schema(parameters=[s.NoticeQuerySerializer], responses={200: s.NoticeSerializer(many=True), **ERRORS})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _save(self, request, instance=None, partial=False):
        require_staff(request.user)
        ser = s.NoticeSerializer(instance, data=request.data, partial=partial)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        dept = d.get("department") or (instance.department if instance else None)
        if dept is None:
            raise LivelihoodError("department is required", field="department")
        if not can_see_department(request.user, dept.id) or (
            instance and not can_see_department(request.user, instance.department_id)
        ):
            raise ApiError("you may publish only for your department", code="permission_denied", status=403)

        def pick(k, default=None):
            return d[k] if k in d else (getattr(instance, k) if instance else default)

        areas = d.get("areas") if "areas" in d else (list(instance.areas.all()) if instance else [])
        notice = notices.notice_save(
            notice_id=instance.id if instance else None, department_id=dept.id, title=pick("title", ""),
            body=pick("body", ""), title_en=pick("title_en", ""), body_en=pick("body_en", ""),
            area_ids=[a.id for a in areas], publish_at=pick("publish_at"), expires_at=pick("expires_at"),
            pinned=pick("pinned", False), actor=request.user,
        )  # fmt: skip
        return Response(s.NoticeSerializer(notice).data, status=200 if instance else 201)

    @extend_schema(responses={201: s.NoticeSerializer, **ERRORS})
    def create(self, request, *args, **kwargs):
        return self._save(request)

    @extend_schema(responses={200: s.NoticeSerializer, **ERRORS})
    def update(self, request, *args, **kwargs):
        return self._save(request, self.get_object(), partial=kwargs.get("partial", False))

    @extend_schema(request=s.StatusSerializer, responses={200: s.NoticeSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        require_staff(request.user)
        notice = self.get_object()
        ser = s.StatusSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        notice = notices.notice_set_status(notice_id=notice.id, status=ser.validated_data["status"], actor=request.user)
        return Response(s.NoticeSerializer(notice).data)

    @extend_schema(request=s.SubscriptionSerializer, responses={201: s.SubscriptionSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    def subscribe(self, request):
        """Subscribe an e-mail address to the digest of an area's notices."""
        ser = s.SubscriptionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        sub = notices.subscription_create(
            email=ser.validated_data["email"], area_id=ser.validated_data["area"], citizen=_citizen(request.user)
        )
        return Response({"email": sub.email, "area": sub.area_id}, status=201)


# --- reports and ratings --------------------------------------------------------------------------


class ReportViewSet(viewsets.GenericViewSet):
    """Report a problem (no login needed) and follow it with the number and token."""

    lookup_value_regex = ID_REGEX

    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    serializer_class = s.ReportCreateSerializer
    pagination_class = None

    def get_queryset(self):
        return Report.objects.none()

    @extend_schema(request={"multipart/form-data": s.ReportCreateSerializer, "application/json": s.ReportCreateSerializer},
                   responses={201: s.ReportCreatedSerializer, **ERRORS})  # fmt: skip
    def create(self, request):
        ser = s.ReportCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        report = reports.report_submit(
            category=d["category"], description=d["description"], lon=d.get("lon"), lat=d.get("lat"),
            photo=d.get("photo"), address=d["address"], citizen=_citizen(request.user),
            reporter_name=d["name"], reporter_phone=d["phone"], reporter_email=d["email"],
        )  # fmt: skip
        return Response(s.ReportCreatedSerializer(report).data, status=201)

    @extend_schema(parameters=[s.TrackQuerySerializer], responses={200: s.ReportPublicSerializer, **ERRORS})
    @action(detail=False, methods=["get"])
    def track(self, request):
        """The report's progress; 404 unless both the number and the token match."""
        q = s.TrackQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        report = reports.report_by_token(number=q.validated_data["number"], token=q.validated_data["token"])
        if report is None:
            raise ApiError("no report with this number and token", code="not_found", status=404)
        return Response(s.ReportPublicSerializer(report).data)


class RatingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Ratings: anyone rates (appointments and reports with their token); staff see their department's,
    reply, and read the dashboard."""

    lookup_value_regex = ID_REGEX

    serializer_class = s.RatingSerializer
    throttle_classes = PUBLIC_THROTTLES
    filterset_fields = ["score", "target", "service", "department"]
    ordering_fields = ["created_at", "score"]

    def get_permissions(self):
        return [AllowAny()] if self.action == "create" else [IsAuthenticated()]

    def get_queryset(self):
        return selectors.ratings_visible_to(self.request.user).order_by("-created_at", "id")

    @extend_schema(
        request=s.RatingCreateSerializer,
        responses={
            201: s.RatingSerializer,
            409: OpenApiResponse(description="already rated or not ratable yet"),
            **ERRORS,
        },
    )
    def create(self, request):
        ser = s.RatingCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        user = request.user
        appointment_id = report_id = None
        if d["target"] == "appointment":
            if not d.get("appointment"):
                raise LivelihoodError("appointment is required", field="appointment")
            appt = Appointment.objects.filter(pk=d["appointment"]).first()
            owns = appt is not None and (
                (user.is_authenticated and appt.citizen_id == user.id)
                or (d.get("appointment_token") and secrets.compare_digest(appt.token, d["appointment_token"]))
            )
            if not owns:
                raise LivelihoodError("appointment: not found (give its token)", field="appointment", status=404)
            appointment_id = appt.id
        elif d["target"] == "case":
            report = reports.report_by_token(number=d.get("report") or "", token=d.get("report_token") or "")
            if report is None and user.is_authenticated and d.get("report"):
                report = Report.objects.filter(number=d["report"], citizen=user).first()
            if report is None:
                raise LivelihoodError("report: not found (give its number and token)", field="report", status=404)
            report_id = report.id
        elif not d.get("service"):
            raise LivelihoodError("service is required", field="service")
        rating = ratings.rating_submit(
            target=d["target"], score=d["score"], reasons=d["reasons"], comment=d["comment"],
            service_id=d.get("service"), appointment_id=appointment_id, report_id=report_id, citizen=_citizen(user),
        )  # fmt: skip
        return Response(s.RatingSerializer(rating).data, status=201)

    @extend_schema(request=s.ReplySerializer, responses={200: s.RatingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        """The department answers a rating."""
        require_staff(request.user)
        rating = self.get_object()
        ser = s.ReplySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        rating = ratings.rating_reply(rating_id=rating.id, reply=ser.validated_data["reply"], actor=request.user)
        return Response(s.RatingSerializer(rating).data)

    @extend_schema(responses={200: s.DashboardSerializer, **ERRORS})
    @action(detail=False, methods=["get"], pagination_class=None)
    def dashboard(self, request):
        require_staff(request.user)
        return Response(selectors.rating_dashboard(qs=self.filter_queryset(self.get_queryset())))
