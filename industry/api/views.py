"""`/api/v1/industry/`: thin viewsets over the services; one authorization rule per resource
(industry.permissions) applied to list, detail, writes and every custom action."""

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cityos.scoping import can_see_department
from datahub import facade
from industry import permissions as perms
from industry import selectors
from industry.filtersets import AppealFilter, EnterpriseFilter, GrantFilter, PolicyFilter
from industry.models import Criterion, IndustryCode, Match, Park, Tag
from industry.services import appeals as appeal_services
from industry.services import imports, indicators, policies
from industry.services import registry as reg
from industry.services.errors import IndustryError
from industry.services.matching import match_run
from industry.views_export import export_response

from . import serializers as s

E = s.IndustryErrorSerializer
ERR = {400: E, 403: E, 404: E}


def _department(dept_id: int | None) -> int | None:
    if dept_id is not None and facade.department_get(id=dept_id) is None:
        raise IndustryError(f"department: {dept_id} does not exist", extra={"field": "department"})
    return dept_id


def _forbid(message: str = "you may not do this"):
    raise IndustryError(message, code="permission_denied", status=403)


class EnterpriseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """The enterprise registry (scoped: officers see their department subtree, enterprise users their own)."""

    filterset_class = EnterpriseFilter
    ordering_fields = ["name", "created_at", "risk_score", "founded_on"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return perms.enterprises_visible_to(self.request.user).prefetch_related("tags").order_by("id")

    def get_serializer_class(self):
        return s.EnterpriseListSerializer

    @extend_schema(request=s.EnterpriseCreateSerializer, responses={201: s.EnterpriseListSerializer, 409: E, **ERR})
    def create(self, request):
        """Register an enterprise: at least `name` and `uscc` (validated, GB 32100-2015). A USCC
        already registered → 409 with `existing_id`."""
        if not perms.is_staff(request.user) or not perms.policy_can_manage(
            request.user, department_id=request.user.department_id
        ):
            _forbid("only officers may register enterprises")
        ser = s.EnterpriseCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = dict(ser.validated_data)
        d["department_id"] = _department(d.pop("department")) or (
            None if request.user.is_city_wide else request.user.department_id
        )
        if (
            d["department_id"]
            and not request.user.is_city_wide
            and not can_see_department(request.user, d["department_id"])
        ):
            raise IndustryError("department: not one of yours", status=403, extra={"field": "department"})
        ent = reg.enterprise_register(actor=request.user, **d)
        return Response(s.EnterpriseListSerializer(ent, context={"request": request}).data, status=201)

    @extend_schema(request=s.EnterpriseUpdateSerializer, responses={200: s.EnterpriseListSerializer, **ERR})
    def partial_update(self, request, pk=None):
        ent = self.get_object()
        if not perms.enterprise_can(request.user, "edit", ent):
            _forbid()
        ser = s.EnterpriseUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = dict(ser.validated_data)
        d.pop("licences", None)
        if "department" in d:
            d["department_id"] = _department(d.pop("department"))
        ent = reg.enterprise_update(enterprise_id=ent.id, actor=request.user, **d)
        return Response(s.EnterpriseListSerializer(ent, context={"request": request}).data)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **ERR},
        description="一企一档: registry facts, licences, map point, indicators, tags, policies, grants, appeals, "
        "cases, alerts, documents and risk, in a fixed number of queries.",
    )
    @action(detail=True, methods=["get"])
    def profile(self, request, pk=None):
        # The scoped lookup is part of the profile's one query (no get_object() round trip first).
        profile = None
        if str(pk).isdigit():
            profile = selectors.enterprise_profile(
                enterprise_id=int(pk), user=request.user, visible=perms.enterprises_visible_to(request.user)
            )
        if profile is None:
            raise Http404
        return Response(profile)

    @extend_schema(responses={200: s.PolicyForMeSerializer(many=True), **ERR})
    @action(detail=True, methods=["get"])
    def policies(self, request, pk=None):
        """Policies for me: the active policies this enterprise meets (eligible or possibly), explained."""
        ent = self.get_object()
        qs = (
            Match.objects.filter(enterprise=ent, policy__status="active").select_related("policy").order_by("policy_id")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PolicyForMeSerializer(page, many=True).data)

    @extend_schema(request=s.LicenceInputSerializer, responses={201: s.LicenceSerializer, **ERR})
    @action(detail=True, methods=["post"])
    def licences(self, request, pk=None):
        ent = self.get_object()
        if not perms.enterprise_can(request.user, "edit", ent):
            _forbid()
        ser = s.LicenceInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        lic = reg.licence_add(enterprise_id=ent.id, actor=request.user, **ser.validated_data)
        return Response(s.LicenceSerializer(lic).data, status=201)

    @extend_schema(
        request={"multipart/form-data": s.FileUploadSerializer}, responses={201: s.ImportJobSerializer, **ERR}
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_csv(self, request):
        """CSV upload (header: the field names). Any bad row → 400 with the row/column report and
        nothing written (on_error=abort, the default); on_error=skip keeps the good rows."""
        if not perms.policy_can_manage(request.user, department_id=request.user.department_id):
            _forbid("only officers may import enterprises")
        ser = s.FileUploadSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        f = ser.validated_data["file"]
        if f.size > 50 * 1024 * 1024:
            raise IndustryError("file: larger than 50 MB", extra={"field": "file"})
        job = imports.enterprise_import_csv(
            data=f.read(), name=f.name, actor=request.user, on_error=ser.validated_data["on_error"]
        )
        return Response(imports.job_summary(job), status=201)

    @extend_schema(request=s.EnterpriseDatasetImportSerializer, responses={201: s.ImportJobSerializer, **ERR})
    @action(detail=False, methods=["post"], url_path="import-dataset", parser_classes=[JSONParser])
    def import_dataset(self, request):
        """Import from a datahub dataset through a field mapping {our field: its column}."""
        if not perms.policy_can_manage(request.user, department_id=request.user.department_id):
            _forbid("only officers may import enterprises")
        ser = s.EnterpriseDatasetImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        job = imports.enterprise_import_dataset(
            dataset_id=d["dataset"], mapping=d["mapping"], actor=request.user, on_error=d["on_error"]
        )
        return Response(imports.job_summary(job), status=201)

    @extend_schema(
        parameters=[OpenApiParameter("export_format", str, enum=["csv", "xlsx"], required=False)],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 400: E},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as CSV or XLSX (at most 50,000 rows)."""
        qs = self.filter_queryset(self.get_queryset())
        return export_response(qs, request=request, fmt=request.query_params.get("export_format", "csv"))

    @extend_schema(responses={200: s.EnterpriseListSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def risk(self, request):
        """The risk list: enterprises by risk score, highest first."""
        qs = self.filter_queryset(self.get_queryset()).exclude(risk_level="low").order_by("-risk_score", "id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            s.EnterpriseListSerializer(page, many=True, context={"request": request}).data
        )


class PolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    filterset_class = PolicyFilter
    ordering_fields = ["valid_from", "code", "title"]
    serializer_class = s.PolicySerializer
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            perms.policies_visible_to(self.request.user)
            .prefetch_related(Prefetch("criteria", queryset=Criterion.objects.order_by("position", "id")))
            .order_by("-valid_from", "code")
        )

    @extend_schema(request=s.PolicyWriteSerializer, responses={201: s.PolicySerializer, 409: E, **ERR})
    def create(self, request):
        ser = s.PolicyWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = dict(ser.validated_data)
        d["department_id"] = _department(d.pop("department"))
        if not perms.policy_can_manage(request.user, department_id=d["department_id"]):
            _forbid("only officers of the issuing department may add its policies")
        policy = policies.policy_save(actor=request.user, **d)
        return Response(s.PolicySerializer(policy).data, status=201)

    @extend_schema(request=s.PolicyUpdateSerializer, responses={200: s.PolicySerializer, **ERR})
    def partial_update(self, request, pk=None):
        policy = self.get_object()
        if not perms.policy_can_manage(request.user, policy):
            _forbid()
        ser = s.PolicyUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = dict(ser.validated_data)
        if "department" in d:
            d["department_id"] = _department(d.pop("department"))
        policies.policy_save(policy_id=policy.id, actor=request.user, **d)
        return Response(s.PolicySerializer(self.get_queryset().get(pk=policy.pk)).data)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=["eligible", "possible"], required=False)],
        responses={200: s.MatchSerializer(many=True), **ERR},
    )
    @action(detail=True, methods=["get"])
    def matches(self, request, pk=None):
        """Enterprises meeting the policy (among those the user sees), each with `criteria`: one entry
        per criterion with `met` true / false / null (unknown) and the value used."""
        policy = self.get_object()
        qs = Match.objects.filter(policy=policy, enterprise__in=perms.enterprises_visible_to(request.user))
        status = request.query_params.get("status")
        if status in ("eligible", "possible"):
            qs = qs.filter(status=status)
        qs = qs.select_related("enterprise").order_by("enterprise_id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.MatchSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, **ERR})
    @action(detail=True, methods=["post"])
    def rematch(self, request, pk=None):
        """Re-run the matching of this policy now."""
        policy = self.get_object()
        if not perms.policy_can_manage(request.user, policy):
            _forbid()
        return Response(match_run(policy_ids=[policy.id]))

    @extend_schema(
        request=s.ProposeSerializer,
        responses={
            200: inline_serializer(
                "ProposedCriteria", {"criteria": serializers.ListField(child=serializers.DictField())}
            ),
            **ERR,
        },
    )
    @action(detail=False, methods=["post"], url_path="propose-criteria")
    def propose_criteria(self, request):
        """Criteria proposed from a policy text (jieba + patterns), each with its evidence, for an officer to confirm."""
        if not perms.is_staff(request.user):
            _forbid()
        ser = s.ProposeSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return Response({"criteria": policies.criteria_propose(text=ser.validated_data["text"])})


class GrantViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    filterset_class = GrantFilter
    serializer_class = s.GrantSerializer
    ordering_fields = ["created_at", "status"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            perms.grants_visible_to(self.request.user)
            .select_related("policy", "enterprise")
            .order_by("-created_at", "id")
        )

    @extend_schema(
        request=s.GrantDecideSerializer,
        responses={
            200: inline_serializer(
                "GrantDecision",
                {"done": serializers.ListField(child=serializers.IntegerField()), "failed": serializers.DictField()},
            ),
            **ERR,
        },
    )
    @action(detail=False, methods=["post"])
    def decide(self, request):
        """免申即享: confirm (or reject) proposed grants in bulk; each enterprise is notified."""
        ser = s.GrantDecideSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        if not perms.is_staff(request.user):
            _forbid()
        allowed = set(perms.grants_decidable_by(request.user).filter(id__in=d["ids"]).values_list("id", flat=True))
        result = policies.grants_decide(
            grant_ids=sorted(allowed), decision=d["decision"], actor=request.user, note=d["note"]
        )
        for i in d["ids"]:
            if i not in allowed:
                result["failed"][str(i)] = "not found"
        return Response(result)

    @extend_schema(request=s.GrantApplySerializer, responses={201: s.GrantSerializer, 409: E, **ERR})
    @action(detail=False, methods=["post"])
    def apply(self, request):
        """An enterprise user applies for a policy its enterprise meets."""
        ser = s.GrantApplySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        ent = get_object_or_404(perms.enterprises_visible_to(request.user), pk=ser.validated_data["enterprise"])
        if not perms.enterprise_can(request.user, "apply", ent):
            _forbid("only the enterprise's own users may apply")
        grant = policies.grant_apply(policy_id=ser.validated_data["policy"], enterprise_id=ent.id, actor=request.user)
        return Response(s.GrantSerializer(grant).data, status=201)


class AppealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    filterset_class = AppealFilter
    serializer_class = s.AppealSerializer
    ordering_fields = ["created_at", "status"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return perms.appeals_visible_to(self.request.user).select_related("enterprise").order_by("-created_at", "-id")

    @extend_schema(request=s.AppealCreateSerializer, responses={201: s.AppealSerializer, **ERR})
    def create(self, request):
        """An enterprise user submits an appeal; governance opens a case for it (case.requested)."""
        ser = s.AppealCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        ent = get_object_or_404(perms.enterprises_visible_to(request.user), pk=d["enterprise"])
        if not perms.enterprise_can(request.user, "appeal", ent):
            _forbid("only the enterprise's own users may submit its appeals")
        appeal = appeal_services.appeal_submit(
            enterprise_id=ent.id,
            title=d["title"],
            description=d["description"],
            category=d["category"],
            actor=request.user,
        )
        appeal.refresh_from_db()
        return Response(s.AppealSerializer(appeal).data, status=201)

    @extend_schema(request=s.AppealRateSerializer, responses={200: s.AppealSerializer, 409: E, **ERR})
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        """Satisfaction (1–5) once the appeal is answered, by the enterprise's users."""
        appeal = self.get_object()
        if not perms.enterprise_can(request.user, "appeal", appeal.enterprise):
            _forbid("only the enterprise's own users may rate")
        ser = s.AppealRateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        appeal = appeal_services.appeal_rate(appeal_id=appeal.id, actor=request.user, **ser.validated_data)
        return Response(s.AppealSerializer(appeal).data)


class ParkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ParkSerializer

    def get_queryset(self):
        if not perms.is_staff(self.request.user):
            return Park.objects.none()
        return Park.objects.order_by("code")

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERR})
    @action(detail=True, methods=["get"])
    def kpis(self, request, pk=None):
        """Enterprises by industry, occupancy, output and tax per mu (亩均), growth."""
        park = self.get_object()
        return Response(selectors.park_kpis(park=park, enterprise_qs=perms.enterprises_visible_to(request.user)))


class IndustryCodeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """GB/T 4754-2017 sections and divisions."""

    serializer_class = s.IndustryCodeSerializer
    pagination_class = None
    queryset = IndustryCode.objects.select_related("parent").order_by("code")


class TagViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TagSerializer
    pagination_class = None
    queryset = Tag.objects.order_by("code")


class IndicatorUploadView(APIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request=s.IndicatorUploadSerializer,
        responses={201: inline_serializer("IndicatorsStored", {"stored": serializers.IntegerField()}), **ERR},
    )
    def post(self, request):
        """Upload indicator values (JSON rows, or a CSV `file` with uscc, metric, period, period_start, value)."""
        if not perms.policy_can_manage(request.user, department_id=request.user.department_id):
            _forbid()
        if "file" in request.FILES:
            return Response(indicators.indicators_import_csv(data=request.FILES["file"].read()), status=201)
        ser = s.IndicatorUploadSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        rows = [dict(r) for r in ser.validated_data["rows"]]
        visible = set(
            perms.enterprises_visible_to(request.user)
            .filter(id__in=[r["enterprise_id"] for r in rows if r.get("enterprise_id")])
            .values_list("id", flat=True)
        )
        for n, r in enumerate(rows, start=1):
            if r.get("enterprise_id") and r["enterprise_id"] not in visible:
                raise IndustryError(f"row {n}, column enterprise_id: unknown enterprise", extra={"field": "rows"})
        return Response(indicators.indicators_upsert(rows=rows, source="api"), status=201)


class DashboardView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("metric", str, enum=["revenue", "tax", "output", "employees", "energy", "exports"]),
            OpenApiParameter("year", int),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERR},
    )
    def get(self, request):
        """Monthly series (MoM/YoY) and rollups by area, industry and park of one metric."""
        from django.utils import timezone

        if not perms.is_staff(request.user):
            _forbid()
        metric = request.query_params.get("metric", "revenue")
        if metric not in ("revenue", "tax", "output", "employees", "energy", "exports"):
            raise IndustryError("metric: unknown indicator", extra={"field": "metric"})
        try:
            year = int(request.query_params.get("year") or timezone.localdate().year - 1)
        except ValueError as exc:
            raise IndustryError("year: not a year", extra={"field": "year"}) from exc
        if not 1990 <= year <= 2100:
            raise IndustryError("year: out of range", extra={"field": "year"})
        qs = perms.enterprises_visible_to(request.user)
        sql = qs.values("id").query.sql_with_params()
        return Response(
            {
                "metric": metric,
                "year": year,
                "series": selectors.monthly_series(metric=metric, enterprise_qs=qs),
                "by_area": selectors.indicator_rollup(metric=metric, group="area", year=year, enterprise_ids_sql=sql),
                "by_industry": selectors.indicator_rollup(
                    metric=metric, group="industry", year=year, enterprise_ids_sql=sql
                ),
                "by_park": selectors.indicator_rollup(metric=metric, group="park", year=year, enterprise_ids_sql=sql),
            }
        )


class ChainView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, 403: E})
    def get(self, request):
        """Industry chains: links between industry codes, enterprises per code, 补链 gaps."""
        if not perms.is_staff(request.user):
            _forbid()
        return Response({"chains": selectors.industry_chain(enterprise_qs=perms.enterprises_visible_to(request.user))})
