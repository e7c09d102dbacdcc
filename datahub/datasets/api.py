"""`/api/v1/datahub/datasets/…` and `/api/v1/datahub/dataset-imports/…`: catalogue, records, exports, imports."""

from __future__ import annotations

import csv
import io
import json
import tempfile

from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from cityos.api.exceptions import ApiError
from cityos.api.pagination import StandardPagination
from datahub.core.files import ImportFileError
from datahub.datasets import selectors as sel
from datahub.datasets.models import Dataset, DatasetField, DatasetImport
from datahub.datasets.serializers import (
    ConfirmSerializer,
    DatasetImportSerializer,
    DatasetSerializer,
    DatasetVersionSerializer,
    UploadSerializer,
)
from datahub.datasets.services import datasets as svc
from datahub.datasets.services import entities as link_svc


def _file_error(e: ImportFileError) -> ApiError:
    return ApiError(e.message, code=e.code, status=413 if e.code == "file_too_large" else 400)


def _query_error(e: sel.QueryError) -> ApiError:
    return ApiError(str(e), code="invalid_query")


RECORD_PARAMS = [
    OpenApiParameter("q", str, description="Full-text search over the row's values"),
    OpenApiParameter("filters", str, description='CKAN-style JSON: {"field": value or [values]}'),
    OpenApiParameter("bbox", str, description="minLon,minLat,maxLon,maxLat"),
    OpenApiParameter("area", str, description="Area id or code: rows located in it or within its boundary"),
    OpenApiParameter("entity", int, description="Rows linked to this entity id"),
    OpenApiParameter("sort", str, description="Comma-separated field names, '-' for descending"),
    OpenApiParameter("version", int, description="Rows as they were at this version"),
    OpenApiParameter("fields", str, description="Comma-separated fields to return (records only)"),
]


# --- views ---------------------------------------------------------------------------------------------


class DatasetViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The catalogue. Any field of a dataset's schema can filter its records: `?<field>=v`,
    `?<field>__gte=v` (gt, lt, lte, ne, contains)."""

    serializer_class = DatasetSerializer
    lookup_field = "slug"
    filterset_fields = ["level", "owner_department"]
    ordering_fields = ["title", "updated_at", "row_count"]

    def get_queryset(self):
        p = self.request.query_params
        if self.action != "list":  # `q` of a records query searches rows, not the catalogue
            qs = sel.datasets_visible_to(self.request.user)
        else:
            qs = sel.catalogue_search(self.request.user, q=p.get("q", ""), tag=p.get("tag", ""))
        return qs.prefetch_related(Prefetch("fields", queryset=DatasetField.objects.order_by("position")))

    def _managed(self) -> Dataset:
        ds = self.get_object()
        if not sel.dataset_can_manage(self.request.user, ds):
            raise ApiError(_("You may read this dataset but not change it."), code="permission_denied", status=403)
        return ds

    def perform_create(self, serializer):
        user = self.request.user
        dept = serializer.validated_data["owner_department"]
        probe = Dataset(owner_department=dept)
        if not sel.dataset_can_manage(user, probe):
            raise ApiError(
                _("You may only create datasets for your own department."), code="permission_denied", status=403
            )
        d = serializer.validated_data
        serializer.instance = svc.dataset_create(
            title=d["title"],
            owner_department=dept,
            description=d.get("description", ""),
            tags=d.get("tags"),
            update_frequency=d.get("update_frequency", Dataset.Frequency.IRREGULAR),
            licence=d.get("licence", ""),
            level=d.get("level", Dataset.Level.INTERNAL),
            created_by=user,
        )

    def perform_update(self, serializer):
        self._managed()
        dept = serializer.validated_data.get("owner_department")
        if dept is not None and not sel.dataset_can_manage(self.request.user, Dataset(owner_department=dept)):
            raise ApiError(
                _("You may only create datasets for your own department."), code="permission_denied", status=403
            )
        mapping = serializer.validated_data.pop("entity_mapping", None)
        with transaction.atomic():
            ds = serializer.save()
            if mapping is not None:
                try:
                    link_svc.dataset_entity_mapping_set(dataset=ds, mapping=mapping)
                except link_svc.EntityMappingError as e:
                    raise ApiError(
                        str(e), code="invalid_entity_mapping", extra={"fields": {e.field: [str(e)]}}
                    ) from None

    @extend_schema(
        request=None,
        responses={202: inline_serializer("EntityLinkQueued", {"queued": serializers.BooleanField()})},
        description="Resolve the current version's rows to entities (Celery, after commit). Idempotent: "
        "rows already linked and rows with an empty name are left as they are.",
    )
    @action(detail=True, methods=["post"], url_path="link-entities")
    def link_entities(self, request, slug=None):
        ds = self._managed()
        if not ds.entity_mapping:
            raise ApiError(
                _("Set the dataset's entity_mapping first."),
                code="no_entity_mapping",
                extra={"fields": {"entity_mapping": [_("This dataset has no entity mapping.")]}},
            )
        link_svc.dataset_entities_link_queue(dataset=ds, user_id=request.user.id)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=RECORD_PARAMS, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def records(self, request, slug=None):
        """Query the dataset's rows (CKAN DataStore `datastore_search` and more)."""
        ds = self.get_object()
        try:
            qs = sel.records_with_geometry(sel.records_query(ds, request.query_params))
        except sel.QueryError as e:
            raise _query_error(e) from None
        wanted = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
        paginator = StandardPagination()
        page = paginator.paginate_queryset(
            qs.values("key", "data", "area_id", "entity_id", "entity_confidence", "version_from", "geo"),
            request,
            view=self,
        )
        return paginator.get_paginated_response(
            [
                {
                    "key": r["key"],
                    "data": {k: r["data"].get(k) for k in wanted} if wanted else r["data"],
                    "area_id": r["area_id"],
                    "entity_id": r["entity_id"],
                    "entity_confidence": r["entity_confidence"],
                    "version": r["version_from"],
                    "geometry": json.loads(r["geo"]) if r["geo"] else None,
                }
                for r in page
            ]
        )

    @extend_schema(parameters=RECORD_PARAMS, responses={200: OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"export/(?P<fmt>csv|xlsx|geojson)")
    def export(self, request, slug=None, fmt="csv"):
        """Download the (filtered) rows as CSV, XLSX or GeoJSON, streamed."""
        ds = self.get_object()
        try:
            qs = sel.records_query(ds, request.query_params)
        except sel.QueryError as e:
            raise _query_error(e) from None
        names = [f.name for f in ds.fields.order_by("position") if f.type != "geometry"]
        geom_name = next((f.name for f in ds.fields.all() if f.type == "geometry"), "geometry")
        if fmt == "geojson":
            rows = sel.records_with_geometry(qs).values_list("key", "data", "area_id", "geo")
            response = StreamingHttpResponse(
                _geojson_stream(rows.iterator(chunk_size=2000)), content_type="application/geo+json"
            )
        elif fmt == "csv":
            rows = sel.records_with_geometry(qs, as_wkt=True).values_list("data", "geo")
            response = StreamingHttpResponse(
                _csv_stream(rows.iterator(chunk_size=2000), names, geom_name, ds.is_geographic),
                content_type="text/csv; charset=utf-8",
            )
        else:
            rows = sel.records_with_geometry(qs, as_wkt=True).values_list("data", "geo")
            tmp = _xlsx_file(rows.iterator(chunk_size=2000), names, geom_name, ds.is_geographic, ds.title)
            response = FileResponse(
                tmp, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
        response["Content-Disposition"] = f'attachment; filename="{ds.slug}-v{ds.current_version}.{fmt}"'
        return response

    @extend_schema(responses={200: DatasetVersionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def versions(self, request, slug=None):
        ds = self.get_object()
        qs = ds.versions.order_by("-number")
        paginator = StandardPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(DatasetVersionSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("target", int, description="The newer version (default: latest)"),
            OpenApiParameter("base", int, description="The older version (default: target - 1)"),
            OpenApiParameter("limit", int, description="Rows per kind, ≥ 1 (default 200, at most 1000 served)"),
            OpenApiParameter("offset", int, description="Rows to skip, ≥ 0"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, slug=None):
        """Rows added, changed and removed between two versions, by primary key."""
        ds = self.get_object()
        try:
            target = sel._int_param(request.query_params, "target") or ds.current_version
            base = sel._int_param(request.query_params, "base")
            base = target - 1 if base is None else base
            limit = min(sel._int_param(request.query_params, "limit", minimum=1) or 200, 1000)
            offset = sel._int_param(request.query_params, "offset") or 0
            d = sel.version_diff(ds, base=base, target=target, limit=limit, offset=offset)
        except sel.QueryError as e:
            raise _query_error(e) from None
        return Response(
            {
                "base": d.base,
                "target": d.target,
                "added": d.added,
                "changed": d.changed,
                "removed": d.removed,
                "rows": d.rows,
            }
        )

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: DatasetImportSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def imports(self, request, slug=None):
        """Upload a file: returns the preview (inferred schema, first rows, first errors) to confirm."""
        ds = self._managed()
        ser = UploadSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            imp = svc.dataset_import_preview(
                dataset=ds,
                upload=ser.validated_data["file"],
                user=request.user,
                encoding=ser.validated_data["encoding"],
                delimiter=ser.validated_data["delimiter"],
            )
        except ImportFileError as e:
            raise _file_error(e) from None
        return Response(DatasetImportSerializer(imp).data, status=status.HTTP_201_CREATED)


class DatasetImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DatasetImportSerializer
    parser_classes = [JSONParser]

    def get_queryset(self):
        user = self.request.user
        qs = DatasetImport.objects.select_related("dataset", "version").order_by("-created_at", "-id")
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return qs.none()
        visible = sel.datasets_visible_to(user)
        if not (user.is_superuser or user.role == "administrator"):
            qs = qs.filter(created_by=user)
        return qs.filter(dataset__in=visible)

    @extend_schema(request=ConfirmSerializer, responses={202: DatasetImportSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm the (possibly edited) schema and options; the import runs in the background."""
        imp = self.get_object()
        if not sel.dataset_can_manage(request.user, imp.dataset):
            raise ApiError(_("You may not import into this dataset."), code="permission_denied", status=403)
        ser = ConfirmSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            imp = svc.dataset_import_confirm(imp=imp, **ser.validated_data)
        except ImportFileError as e:
            raise _file_error(e) from None
        return Response(DatasetImportSerializer(imp).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None, responses={200: inline_serializer("CancelResult", {"cancelled": serializers.BooleanField()})}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        imp = self.get_object()
        if not svc.dataset_import_cancel(imp=imp):
            raise ApiError(
                _("This import has already finished (%(status)s).") % {"status": imp.get_status_display()},
                code="invalid_state",
                status=409,
            )
        return Response({"cancelled": True})

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        """The full error report: one CSV line per invalid value (row, column, value, message)."""
        imp = self.get_object()
        if not imp.error_report:
            raise ApiError(_("This import has no error report."), code="not_found", status=404)
        return FileResponse(
            imp.error_report.open("rb"),
            as_attachment=True,
            filename=f"{imp.dataset.slug}-import-{imp.id}-errors.csv",
            content_type="text/csv",
        )


# --- export streams ------------------------------------------------------------------------------------


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return v


def _csv_stream(rows, names, geom_name, geographic):
    buf = io.StringIO()
    w = csv.writer(buf)
    yield "\ufeff"  # BOM: Excel opens UTF-8 Chinese text correctly
    w.writerow(names + ([geom_name] if geographic else []))
    for i, (data, wkt) in enumerate(rows, start=1):
        w.writerow([_cell(data.get(n)) for n in names] + ([wkt or ""] if geographic else []))
        if i % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _geojson_stream(rows):
    yield '{"type":"FeatureCollection","features":['
    first = True
    for key, data, area_id, geo in rows:
        feature = {"type": "Feature", "id": key, "properties": {**data, "_area_id": area_id}}
        text = json.dumps(feature, ensure_ascii=False)
        # The geometry is already GeoJSON text from PostGIS: splice it in rather than parse it.
        text = text[:-1] + f',"geometry":{geo or "null"}}}'
        yield ("" if first else ",") + text
        first = False
    yield "]}"


def _xlsx_file(rows, names, geom_name, geographic, title):
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)  # constant memory, streams rows to a temporary file
    ws = wb.create_sheet(title=(title or "data")[:31].replace("/", "-").replace(":", "-") or "data")
    ws.append(names + ([geom_name] if geographic else []))
    for data, wkt in rows:
        ws.append([_cell(data.get(n)) for n in names] + ([wkt or ""] if geographic else []))
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    wb.save(tmp)
    tmp.seek(0)
    return tmp
