from datetime import datetime, time, timedelta

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cityos.api.exceptions import ApiError
from cityos.api.permissions import HasRole, IsStaffRole
from cityos.roles import Role, is_staff_role
from governance import permissions
from governance.filtersets import CaseFilter
from governance.models import Case, Category, DispatchRule, PersonalDataAccess
from governance.pagination import CappedCountPagination
from governance.selectors.cases import case_duplicates, case_for_citizen, case_inbox
from governance.selectors.efficiency import efficiency_by_department
from governance.services.cases import case_attach, case_create, case_merge, case_rate, case_transition
from governance.services.classification import category_correct
from governance.services.errors import CaseError
from governance.services.grids import grid_patrol_report
from governance.services.privacy import case_reporter_unmask
from governance.throttles import TrackThrottle

from . import serializers as s


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Cases the user may see (dispatchers: all; officers: their department subtree; grid workers: their grids)."""

    filterset_class = CaseFilter
    pagination_class = CappedCountPagination
    ordering_fields = ["created_at", "due_at", "priority", "status"]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        qs = case_inbox(user=self.request.user)
        if self.action == "retrieve":
            qs = qs.prefetch_related("transitions__actor", "attachments")
        return qs

    def _detail(self, request, pk):
        case = case_inbox(user=request.user).prefetch_related("transitions__actor", "attachments").get(pk=pk)
        return Response(s.CaseDetailSerializer(case, context={"request": request}).data)

    def get_serializer_class(self):
        if self.action == "create":
            return s.CaseCreateSerializer
        return s.CaseDetailSerializer if self.action == "retrieve" else s.CaseListSerializer

    @extend_schema(
        request=s.CaseCreateSerializer,
        responses={
            201: PolymorphicProxySerializer(
                component_name="CaseCreated",
                serializers=[s.CaseDetailSerializer, s.CaseReceiptSerializer],
                resource_type_field_name=None,
            )
        },
    )
    def create(self, request):
        """Create a case. The creator gets its detail, or a receipt (number and the citizen's
        private link) when their role may not open the case."""
        ser = s.CaseCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        category = data.pop("category", None)
        case = case_create(
            **data,
            category_id=category.id if category else None,
            actor=request.user,
            # Staff file cases for citizens; anyone else (an external developer's app) reports
            # their own, and sees it afterwards (governance.selectors.cases.case_visible_to).
            reporter_user=None if is_staff_role(request.user) else request.user,
        )
        visible = self.get_queryset().prefetch_related("transitions__actor", "attachments").filter(pk=case.pk).first()
        if visible is None or not is_staff_role(request.user):  # outsiders get the receipt, never internals
            return Response(s.CaseReceiptSerializer(case, context={"request": request}).data, status=201)
        return Response(s.CaseDetailSerializer(visible, context={"request": request}).data, status=201)

    @extend_schema(request=s.TransitionRequestSerializer, responses={200: s.CaseDetailSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Apply a workflow step (dispatch, accept, start, suspend, resume, resolve, return, reassign,
        reject, verify, close, reopen); 403 when the role/department may not, 409 from the wrong state."""
        case = self.get_object()
        ser = s.TransitionRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        case_transition(
            case_id=case.id,
            action=d["action"],
            actor=request.user,
            note=d["note"],
            department_id=d.get("department"),
            assignee_id=d.get("assignee"),
        )
        return self._detail(request, pk)

    @extend_schema(
        request=s.BulkTransitionSerializer,
        responses={
            200: inline_serializer(
                "CaseBulkResult",
                {"done": serializers.ListField(child=serializers.IntegerField()), "failed": serializers.DictField()},
            )
        },
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """The same step on many cases; each one succeeds or fails on its own."""
        ser = s.BulkTransitionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        visible = set(self.get_queryset().filter(pk__in=d["ids"]).values_list("pk", flat=True))
        done, failed = [], {}
        for case_id in d["ids"]:
            if case_id not in visible:
                failed[str(case_id)] = "not found"
                continue
            try:
                with transaction.atomic():
                    case_transition(
                        case_id=case_id,
                        action=d["action"],
                        actor=request.user,
                        note=d["note"],
                        department_id=d.get("department"),
                        assignee_id=d.get("assignee"),
                    )
                done.append(case_id)
            except CaseError as exc:
                failed[str(case_id)] = str(exc.detail)
        return Response({"done": done, "failed": failed})

    @extend_schema(request=s.CorrectCategorySerializer, responses={200: s.CaseDetailSerializer})
    @action(detail=True, methods=["post"], url_path="category")
    def correct_category(self, request, pk=None):
        """An officer corrects the automatic category (kept for retraining)."""
        case = self.get_object()
        if not permissions.can_handle(request.user, case) and not permissions.is_dispatcher(request.user):
            raise CaseError("category: you may not change this case's category", code="permission_denied", status=403)
        ser = s.CorrectCategorySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        category_correct(case_id=case.id, category_id=ser.validated_data["category"].id, actor=request.user)
        return self._detail(request, pk)

    @extend_schema(responses={200: s.CaseListSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def duplicates(self, request, pk=None):
        """Open cases of the same category within 200 m and 72 h: proposed for merging."""
        case = self.get_object()
        return Response(s.CaseListSerializer(case_duplicates(case=case)[:50], many=True).data)

    @extend_schema(request=s.MergeSerializer, responses={200: s.CaseDetailSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge another case (`duplicate`) into this one."""
        case = self.get_object()
        ser = s.MergeSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        get_object_or_404(self.get_queryset(), pk=ser.validated_data["duplicate"])
        case_merge(
            primary_id=case.id,
            duplicate_id=ser.validated_data["duplicate"],
            actor=request.user,
            note=ser.validated_data["note"],
        )
        return self._detail(request, pk)

    @extend_schema(request=s.UnmaskSerializer, responses={200: s.ReporterSerializer})
    @action(detail=True, methods=["post"])
    def reporter(self, request, pk=None):
        """Unmask the reporter's name, phone and e-mail (for roles that see them masked); logged with
        the reason, visible to administrators at `personal-data-access/`."""
        ser = s.UnmaskSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = case_reporter_unmask(
            case_id=self.get_object().id,
            user=request.user,
            reason=ser.validated_data["reason"],
            channel="api",
            ip=request.META.get("REMOTE_ADDR"),
        )
        return Response(data)

    @extend_schema(
        request={
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        responses={201: s.AttachmentSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attachments(self, request, pk=None):
        case = self.get_object()
        if not permissions.can_view(request.user, case):
            raise CaseError("file: you may not attach files to this case", code="permission_denied", status=403)
        upload = request.FILES.get("file")
        if upload is None:
            raise ApiError("file: upload a file in the `file` field", code="missing_file")
        att = case_attach(case_id=case.id, uploaded_file=upload, actor=request.user)
        return Response(s.AttachmentSerializer(att, context={"request": request}).data, status=201)


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Category.objects.filter(is_active=True).order_by("code")
    serializer_class = s.CategorySerializer


class DispatchRuleViewSet(viewsets.ModelViewSet):
    """Dispatch rules: staff roles read; dispatchers (hotline centre, leaders, administrators) edit."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    queryset = DispatchRule.objects.select_related("category", "department").order_by("order", "id")
    serializer_class = s.DispatchRuleSerializer

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not permissions.is_dispatcher(request.user):
            raise CaseError("rules: only dispatchers edit dispatch rules", code="permission_denied", status=403)


class PublicTrackView(APIView):
    """Citizens follow their case without logging in: the tracking number plus the link's `key`
    or the last 4 digits of the phone given at intake (`phone_last4`). The number alone is a 404."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TrackThrottle]

    def _case(self, request, number: str, data=None) -> Case:
        data = data or {}
        case = case_for_citizen(
            number=number,
            key=data.get("key") or request.query_params.get("key", ""),
            phone_last4=data.get("phone_last4") or request.query_params.get("phone_last4", ""),
        )
        if case is None:
            raise CaseError(
                "key: no case with this tracking number and key (or phone digits)", code="not_found", status=404
            )
        return case

    @extend_schema(
        parameters=[
            OpenApiParameter("key", str, description="The key of the citizen's link"),
            OpenApiParameter("phone_last4", str, description="Or the last 4 digits of the phone given at intake"),
        ],
        responses={200: s.PublicCaseSerializer},
        auth=[],
    )
    def get(self, request, number: str):
        return Response(s.PublicCaseSerializer(self._case(request, number)).data)

    @extend_schema(request=s.RateSerializer, responses={200: s.PublicCaseSerializer}, auth=[])
    def post(self, request, number: str):
        """Rate the resolution 1–5 with a comment; 1 or 2 reopens the case."""
        ser = s.RateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        case = self._case(request, number, {"key": data.pop("key", ""), "phone_last4": data.pop("phone_last4", "")})
        case_rate(tracking_number=case.tracking_number, **data)
        return Response(s.PublicCaseSerializer(self._case(request, number, {"key": case.citizen_key})).data)


__all__ = ["CaseViewSet", "CategoryViewSet", "DispatchRuleViewSet", "PublicTrackView"]


class PatrolReportView(APIView):
    """A grid worker's patrol report: becomes a case in the worker's grid that contains the point."""

    @extend_schema(request=s.PatrolReportSerializer, responses={201: s.CaseDetailSerializer})
    def post(self, request):
        ser = s.PatrolReportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = dict(ser.validated_data)
        category = d.pop("category", None)
        case = grid_patrol_report(worker=request.user, category_id=category.id if category else None, **d)
        case = case_inbox(user=request.user).prefetch_related("transitions__actor", "attachments").get(pk=case.pk)
        return Response(s.CaseDetailSerializer(case, context={"request": request}).data, status=201)


class EfficiencyView(APIView):
    """Administrative efficiency per department for a period (`start`, `end`: YYYY-MM-DD), ranked."""

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="first day (default: 30 days ago)"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="day after the last (default: tomorrow)"),
        ],
        responses={200: s.EfficiencyRowSerializer(many=True)},
    )
    def get(self, request):
        if not (request.user.is_city_wide or permissions.is_dispatcher(request.user)):
            raise CaseError("efficiency: for leaders, analysts and supervisors", code="permission_denied", status=403)
        today = timezone.localdate()
        bounds = []
        for name, default in (("start", today - timedelta(days=30)), ("end", today + timedelta(days=1))):
            raw = request.query_params.get(name)
            value = parse_date(raw) if raw else default
            if value is None:
                raise ApiError(f"{name}: {raw!r} is not a date (YYYY-MM-DD)", code="invalid_date")
            bounds.append(datetime.combine(value, time.min, timezone.get_current_timezone()))
        return Response(efficiency_by_department(start=bounds[0], end=bounds[1]))


class PersonalDataAccessViewSet(viewsets.ReadOnlyModelViewSet):
    """The log of unmasked reporter details (who, which case, which fields, why, when): administrators."""

    permission_classes = [HasRole.of(Role.ADMINISTRATOR)]
    serializer_class = s.PersonalDataAccessSerializer
    queryset = PersonalDataAccess.objects.select_related("user", "case").order_by("-at", "-id")
    filterset_fields = ["case", "user"]
