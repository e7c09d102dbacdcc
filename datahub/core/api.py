from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField as BooleanExpr
from django.db.models import Count, ExpressionWrapper, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response

from cityos.api.exceptions import ApiError
from cityos.api.pagination import TimeCursorPagination
from cityos.api.permissions import HasRole, IsStaffRole
from cityos.roles import Role
from datahub.core import serializers as s
from datahub.core.filtersets import EntityFilter, EventFilter, RunFilter, SourceFilter
from datahub.core.models import Area, Department, Entity, EntityIdentifier, Run, Source
from datahub.core.selectors import areas as area_selectors
from datahub.core.selectors import entities as entity_selectors
from datahub.core.selectors import events as event_selectors
from datahub.core.services import entities as entity_services
from datahub.core.services import runs as run_services
from datahub.core.services import sources as source_services
from datahub.core.services.areas import AreaImportError, AreaMapping, area_import_geojson, parse_geojson
from datahub.core.services.sources import Schedule, SourceError
from datahub.core.tasks import source_pull

# Who may change the registry: administrators, and the people who curate data (analysts,
# department officers). Everyone signed in may read.
CURATORS = HasRole.of(Role.ADMINISTRATOR, Role.ANALYST, Role.DEPARTMENT_OFFICER)
ADMINS = HasRole.of(Role.ADMINISTRATOR)


def _error(exc: ValueError, default_field: str | None = None) -> ApiError:
    field = getattr(exc, "field", None) or default_field
    msg = f"{field}: {exc}" if field and not str(exc).startswith(field) else str(exc)
    return ApiError(msg, code="invalid", extra={"fields": {field: [str(exc)]}} if field else None)


class DepartmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Department.objects.order_by("path")
    serializer_class = s.DepartmentSerializer
    filterset_fields = ["kind", "parent", "is_active"]
    search_fields = ["name", "name_en", "code"]


# --- areas -----------------------------------------------------------------------------------


class AreaViewSet(viewsets.ReadOnlyModelViewSet):
    """Administrative areas (tree by `parent`); boundaries from `geojson/`, simplified."""

    serializer_class = s.AreaSerializer
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        children = (
            Area.objects.filter(parent=OuterRef("pk")).order_by().values("parent").annotate(n=Count("id")).values("n")
        )
        qs = area_selectors.area_queryset(
            level=self.request.query_params.get("level") or None,
            parent_id=_int_param(self.request, "parent"),
            roots=self.request.query_params.get("roots") in ("1", "true"),
            q=(self.request.query_params.get("q") or "").strip(),
        )
        return qs.defer("geometry", "attributes").annotate(
            has_geom=ExpressionWrapper(Q(geometry__isnull=False), output_field=BooleanExpr()),
            n_children=Coalesce(Subquery(children), 0),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("level", str),
            OpenApiParameter("parent", int),
            OpenApiParameter("roots", bool),
            OpenApiParameter("q", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[s.GeoJSONQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def geojson(self, request):
        """A GeoJSON FeatureCollection of boundaries: `parent` (its children), `ids`, `level` or `roots`."""
        q = s.GeoJSONQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        if not any(k in d for k in ("parent", "ids", "level")) and not d.get("roots"):
            raise ApiError("give parent, ids, level or roots=true", code="invalid")
        qs = Area.objects.exclude(geometry=None)
        if "ids" in d:
            qs = qs.filter(id__in=d["ids"])
        if "parent" in d:
            qs = qs.filter(parent_id=d["parent"])
        if "level" in d:
            qs = qs.filter(level=d["level"])
        if d.get("roots"):
            qs = qs.filter(parent=None)
        limit = 5000  # ~5 MB simplified; a browser map gets slow beyond that
        ids = list(qs.order_by("code").values_list("id", flat=True)[: limit + 1])
        if len(ids) > limit:
            raise ApiError(f"more than {limit} areas match; narrow with parent or ids", code="too_many")
        return Response(area_selectors.area_geojson(ids=ids, tolerance=d["tolerance"]))

    @extend_schema(
        request={"multipart/form-data": s.AreaImportSerializer}, responses={200: s.AreaImportResultSerializer}
    )
    @action(
        detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser], permission_classes=[ADMINS]
    )
    def import_geojson(self, request):
        """Upsert areas from a GeoJSON file with a property mapping; all or nothing.

        Errors name the feature (0-based index) and property. Files up to DATA_UPLOAD_MAX_MEMORY_SIZE
        (50 MB) are imported in the request (~1 s for NYC's 310 neighbourhoods); larger boundary
        sets go through `manage.py import_areas`.
        """
        ser = s.AreaImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        mapping = AreaMapping(
            code_prop=d["code_prop"],
            name_prop=d["name_prop"],
            name_en_prop=d.get("name_en_prop") or None,
            level=d.get("level") or None,
            level_prop=d.get("level_prop") or None,
            level_map=d.get("level_map") or {},
            parent_code_prop=d.get("parent_code_prop") or None,
            parent_code=d.get("parent_code") or None,
            code_prefix=d["code_prefix"],
            parent_code_prefix=d["parent_code_prefix"],
            gcj02=d["gcj02"],
        )
        upload = d["file"]
        try:
            data = parse_geojson(upload.read())
            result = area_import_geojson(data=data, mapping=mapping)
        except AreaImportError as exc:
            raise ApiError(str(exc), code="invalid_file", extra={"feature": exc.feature, "property": exc.prop}) from exc
        return Response({"created": result.created, "updated": result.updated, "source_srid": result.source_srid})

    @extend_schema(parameters=[s.LocateQuerySerializer], responses={200: s.AreaInfoSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def locate(self, request):
        """Every area containing the WGS84 point, from the largest to the smallest."""
        q = s.LocateQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        found = area_selectors.area_locate(lon=q.validated_data["lon"], lat=q.validated_data["lat"])
        order = [c.value for c in Area.Level]
        rows = sorted(found.values(), key=lambda a: order.index(a.level) if a.level in order else 99)
        return Response([a.__dict__ for a in rows])

    @extend_schema(parameters=[s.MatchQuerySerializer], responses={200: s.AreaInfoSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def match(self, request):
        """Areas named in a text or address (gazetteer lookup, Chinese and English names)."""
        q = s.MatchQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        return Response([a.__dict__ for a in area_selectors.area_match_text(text=q.validated_data["text"])])


def _pk(pk) -> int:
    """A path id: a non-negative integer that fits a bigint, else 404 (`int("1e-300")` was a 500)."""
    try:
        value = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < value <= 2**63 - 1:
        raise NotFound()
    return value


def _int_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise ApiError(
            f"{name} must be an integer", code="invalid", extra={"fields": {name: ["not an integer"]}}
        ) from exc
    if not 0 <= number <= 2**63 - 1:  # ids: never negative, never beyond a bigint column
        raise ApiError(f"{name} is out of range", code="invalid", extra={"fields": {name: ["out of range"]}})
    return number


# --- sources and runs ------------------------------------------------------------------------


class SourceViewSet(viewsets.ModelViewSet):
    """Registered data sources. `credentials` can be written, never read back."""

    serializer_class = s.SourceSerializer
    filterset_class = SourceFilter
    ordering_fields = ["code", "name", "created_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return (
            Source.objects.select_related("schedule__crontab", "schedule__interval")
            .prefetch_related(Prefetch("runs", queryset=Run.objects.order_by("-created_at")[:1], to_attr="recent_runs"))
            .order_by("code")
        )

    def get_permissions(self):
        if self.request.method in SAFE_METHODS:
            return [IsAuthenticated(), IsStaffRole()]  # the city's intake plumbing: staff roles
        return [ADMINS()]

    def _schedule(self, data):
        if data is None:
            return None
        return Schedule(cron=data.get("cron") or None, interval_seconds=data.get("interval_seconds"))

    def perform_create(self, serializer):
        d = serializer.validated_data
        try:
            source_id = source_services.source_register(
                code=d["code"],
                name=d["name"],
                kind=d["kind"],
                owner_department_id=d["owner_department"].id if d.get("owner_department") else None,
                connector=d.get("connector", ""),
                config=d.get("config"),
                credentials=d.get("credentials"),
                schedule=self._schedule(d["schedule"]) if d.get("schedule") else None,
                is_active=d.get("is_active", True),
            )
        except SourceError as exc:
            raise _error(exc) from exc
        serializer.instance = self.get_queryset().get(id=source_id)

    def perform_update(self, serializer):
        d = serializer.validated_data
        kwargs = {k: d[k] for k in ("name", "kind", "connector", "config", "credentials", "is_active") if k in d}
        if "owner_department" in d:
            kwargs["owner_department_id"] = d["owner_department"].id if d["owner_department"] else None
        if "schedule" in d:
            kwargs["schedule"] = self._schedule(d["schedule"])
        if "code" in d and d["code"] != serializer.instance.code:
            raise ApiError("code: cannot be changed", code="invalid", extra={"fields": {"code": ["cannot be changed"]}})
        try:
            source_services.source_update(source_id=serializer.instance.id, **kwargs)
        except SourceError as exc:
            raise _error(exc) from exc
        serializer.instance = self.get_queryset().get(id=serializer.instance.id)

    def perform_destroy(self, instance):
        source_services.source_delete(source_id=instance.id)

    @extend_schema(request=None, responses={202: s.RunSerializer})
    @action(detail=True, methods=["post"])
    def pull(self, request, pk=None):
        """Run the source's connector now (in Celery); returns the new run."""
        source = self.get_object()
        if not source.is_active:
            raise ApiError("source is not active", code="inactive", status=409)
        run_id = run_services.run_start(source_id=source.id, triggered_by_id=request.user.id)
        transaction.on_commit(lambda: source_pull.delay(source.id, run_id))
        return Response(s.RunSerializer(Run.objects.select_related("source").get(id=run_id)).data, status=202)


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs of the sources (counts, errors naming rows): the city's staff roles only."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    queryset = Run.objects.select_related("source").order_by("-created_at", "-id")
    serializer_class = s.RunSerializer
    filterset_class = RunFilter
    ordering_fields = ["created_at", "started_at", "finished_at"]


# --- entities --------------------------------------------------------------------------------


class EntityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    http_method_names = ["get", "post", "patch", "head", "options"]

    """The entity registry. Filter by type, area (with sub-areas), `q` (name or identifier)."""

    serializer_class = s.EntitySerializer
    filterset_class = EntityFilter
    ordering_fields = ["id", "name", "updated_at"]

    def get_queryset(self):
        return (
            entity_selectors.entities_visible_to(self.request.user)
            .select_related("area")
            .prefetch_related(Prefetch("identifiers", queryset=EntityIdentifier.objects.order_by("scheme", "value")))
            .order_by("id")
        )

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [IsAuthenticated()]
        return [CURATORS()]

    def _changeable(self, action: str, pk=None) -> Entity:
        """The entity (404 if not visible), if the user may `action` it (else 403)."""
        # Not get_object(): the list's filters (merged entities hidden) must not hide a split's target.
        pk = self.kwargs["pk"] if pk is None else pk
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            raise Http404 from None  # not an id ("1e-300", garbage): no such entity
        entity = get_object_or_404(entity_selectors.entities_visible_to(self.request.user), pk=pk)
        if not entity_selectors.entity_can(self.request.user, action, entity):
            raise ApiError(
                f"you may not {action} entity {entity.id}: it belongs to a department outside your scope",
                code="permission_denied",
                status=403,
            )
        return entity

    @extend_schema(request=s.EntityUpdateSerializer, responses={200: s.EntitySerializer})
    def partial_update(self, request, pk=None):
        """Correct an entity's names, type, attributes, area or department (curators)."""
        entity = self._changeable("change")
        ser = s.EntityUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        fields = dict(ser.validated_data)
        if "department" in fields and not entity_selectors.entity_department_allowed(
            request.user, fields["department"].id if fields["department"] else None
        ):
            raise ApiError(
                "department: you may not give the entity to a department outside your scope",
                code="permission_denied",
                status=403,
                extra={"fields": {"department": ["outside your scope"]}},
            )
        for fk in ("area", "department"):
            if fk in fields:
                obj = fields.pop(fk)
                fields[f"{fk}_id"] = obj.id if obj else None
        try:
            entity_services.entity_update(entity_id=entity.id, **fields)
        except entity_services.EntityError as exc:
            raise _error(exc) from exc
        return Response(s.EntitySerializer(self.get_queryset().get(id=entity.id)).data)

    @extend_schema(
        request=s.EntityResolveSerializer, responses={200: s.ResolutionSerializer, 201: s.ResolutionSerializer}
    )
    @action(detail=False, methods=["post"])
    def resolve(self, request):
        """Attach a row that names a thing to one entity (by identifier, else name and place) or create it."""
        ser = s.EntityResolveSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        try:
            r = entity_services.entity_resolve(
                type=d["type"],
                name=d["name"],
                name_en=d.get("name_en"),
                identifiers=d.get("identifiers"),
                lon=d.get("lon"),
                lat=d.get("lat"),
                attributes=d.get("attributes"),
                source_id=d["source"].id if d.get("source") else None,
            )
        except entity_services.EntityError as exc:
            raise _error(exc) from exc
        return Response(
            {"entity_id": r.entity_id, "confidence": r.confidence, "created": r.created},
            status=201 if r.created else 200,
        )

    @extend_schema(request=s.EntityMergeSerializer, responses={200: s.EventIdSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Fold `merged_id` into this entity: identifiers, events and links move here."""
        ser = s.EntityMergeSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        self._changeable("merge")
        self._changeable("merge", pk=ser.validated_data["merged_id"])
        try:
            event_id = entity_services.entity_merge(
                target_id=_pk(pk),
                merged_id=ser.validated_data["merged_id"],
                actor_id=request.user.id,
                reason=ser.validated_data.get("reason", ""),
            )
        except entity_services.EntityError as exc:
            raise _error(exc) from exc
        return Response({"event_id": event_id})

    @extend_schema(request=s.EntitySplitSerializer, responses={200: s.EventIdSerializer})
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        """Undo the merge of this (merged) entity, or split chosen identifiers off it into a new one."""
        ser = s.EntitySplitSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        self._changeable("split")
        try:
            event_id = entity_services.entity_split(
                entity_id=_pk(pk),
                identifier_ids=ser.validated_data.get("identifier_ids"),
                actor_id=request.user.id,
                reason=ser.validated_data.get("reason", ""),
            )
        except entity_services.EntityError as exc:
            raise _error(exc) from exc
        return Response({"event_id": event_id})


# --- events ----------------------------------------------------------------------------------


class EventCursorPagination(TimeCursorPagination):
    page_size = 100
    ordering = ("-occurred_at", "-id")


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only event log (newest first, cursor pagination)."""

    serializer_class = s.EventSerializer
    filterset_class = EventFilter
    pagination_class = EventCursorPagination
    filter_backends = [DjangoFilterBackend]  # the cursor fixes the order: no ?ordering=

    def get_queryset(self):
        return event_selectors.events_visible_to(self.request.user)

    @extend_schema(
        parameters=[s.EventCountsQuerySerializer],
        responses={
            200: inline_serializer(
                "EventCounts",
                {
                    "bucket": serializers.CharField(),
                    "group": serializers.ListField(child=serializers.CharField()),
                    "timezone": serializers.CharField(),
                    "results": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    @action(detail=False, methods=["get"])
    def counts(self, request):
        """Counts per time bucket (in the city's time zone) and per area and/or type."""
        q = s.EventCountsQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        types = [t.strip() for t in d.get("type", "").split(",") if t.strip()] or None
        rows = event_selectors.event_counts(
            bucket=d["bucket"],
            group=d["group"],
            types=types,
            area_id=d.get("area"),
            since=d.get("since"),
            until=d.get("until"),
            level=d.get("level"),
            base=event_selectors.events_visible_to(request.user),
        )
        names = {}
        if "area" in d["group"]:
            ids = {r["area_id"] for r in rows if r.get("area_id")}
            names = {a["id"]: a for a in Area.objects.filter(id__in=ids).values("id", "code", "name", "name_en")}
        results = []
        for r in rows:
            out = {"bucket": r["bucket"].isoformat(), "count": r["count"]}
            if "area_id" in r:
                a = names.get(r["area_id"], {})
                out.update(area_id=r["area_id"], area_code=a.get("code"), area_name=a.get("name"))
            if "type" in r:
                out["type"] = r["type"]
            results.append(out)
        return Response(
            {
                "bucket": d["bucket"],
                "group": [g for g in d["group"].split(",") if g],
                "timezone": settings.TIME_ZONE,
                "results": results,
            }
        )
