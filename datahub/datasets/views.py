"""Pages of the dataset catalogue: catalogue, dataset, new dataset, import wizard."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.roles import STAFF_ROLES
from datahub.core.files import ImportFileError
from datahub.core.forms import UploadForm
from datahub.core.models import Department
from datahub.datasets import selectors as sel
from datahub.datasets.forms import ConfirmForm, DatasetForm, EntityMappingForm, departments_for
from datahub.datasets.models import Dataset, DatasetField, DatasetImport
from datahub.datasets.services import datasets as svc
from datahub.datasets.services import entities as link_svc

MAP_FEATURES = 2000  # the map shows at most this many rows; the GeoJSON download has them all
PREVIEW_ROWS = 50


def _staff(request) -> None:
    user = request.user
    if not (user.is_superuser or user.role in STAFF_ROLES):
        raise PermissionDenied


def _dataset(request, slug: str) -> Dataset:
    ds = sel.datasets_visible_to(request.user).filter(slug=slug).first()
    if ds is None:
        raise Http404
    return ds


def _managed(request, slug: str) -> Dataset:
    ds = _dataset(request, slug)
    if not sel.dataset_can_manage(request.user, ds):
        raise PermissionDenied
    return ds


@login_required
def catalogue(request):
    _staff(request)
    p = request.GET
    department = p.get("department") or ""
    qs = sel.catalogue_search(
        request.user,
        q=p.get("q", "").strip(),
        department=int(department) if department.isdigit() else None,
        tag=p.get("tag", ""),
        level=p.get("level", ""),
    )
    page = Paginator(qs, 50).get_page(p.get("page"))
    return render(
        request,
        "datahub/dataset_catalogue.html",
        {
            "page": page,
            "q": p.get("q", ""),
            "department": department,
            "tag": p.get("tag", ""),
            "level": p.get("level", ""),
            "departments": Department.objects.filter(datasets__isnull=False).distinct().order_by("path"),
            "tags": sel.catalogue_tags(request.user),
            "levels": Dataset.Level.choices,
            "can_create": bool(departments_for(request.user).exists()),
        },
    )


@login_required
def dataset_new(request):
    _staff(request)
    departments = departments_for(request.user)
    form = DatasetForm(request.POST or None, departments=departments)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        ds = svc.dataset_create(
            title=d["title"],
            description=d["description"],
            owner_department=d["owner_department"],
            tags=d["tags"],
            update_frequency=d["update_frequency"],
            licence=d["licence"],
            level=d["level"],
            created_by=request.user,
        )
        messages.success(request, _("Dataset created. Now import its first file."))
        return redirect("datahub:dataset-import", slug=ds.slug)
    return render(request, "datahub/dataset_form.html", {"form": form})


@login_required
def dataset_detail(request, slug: str):
    _staff(request)
    ds = _dataset(request, slug)
    fields = list(ds.fields.order_by("position"))
    columns = [f.name for f in fields if f.type != DatasetField.Type.GEOMETRY]
    rows = [
        [r.get(c) for c in columns]
        for r in sel.records_at(ds).order_by("key").values_list("data", flat=True)[:PREVIEW_ROWS]
    ]
    features = []
    if ds.is_geographic:
        label = columns[1] if len(columns) > 1 else (columns[0] if columns else None)
        qs = sel.records_at(ds).filter(geom__isnull=False).annotate(gj=AsGeoJSON("geom", precision=6))
        for key, data, gj in qs.order_by("key").values_list("key", "data", "gj")[:MAP_FEATURES]:
            features.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(gj),
                    "properties": {"key": key, "label": str(data.get(label, "")) if label else key},
                }
            )
    diff = None
    if request.GET.get("diff", "").isdigit():
        target = int(request.GET["diff"])
        try:
            diff = sel.version_diff(ds, base=target - 1, target=target, limit=100)
        except sel.QueryError:
            raise Http404 from None
    return render(
        request,
        "datahub/dataset_detail.html",
        {
            "dataset": ds,
            "fields": fields,
            "columns": columns,
            "rows": rows,
            "versions": ds.versions.order_by("-number")[:30],
            "diff": diff,
            "map_features": {"type": "FeatureCollection", "features": features},
            "can_manage": sel.dataset_can_manage(request.user, ds),
            "api_base": f"/api/v1/datahub/datasets/{ds.slug}",
            "recent_imports": ds.imports.select_related("version").order_by("-created_at")[:5],
            "mapping_form": EntityMappingForm(initial=ds.entity_mapping, columns=columns),
        },
    )


@login_required
@require_POST
def dataset_entity_mapping(request, slug: str):
    """Set (or clear) which entity each row names; linking is queued when a mapping is set."""
    _staff(request)
    ds = _managed(request, slug)
    form = EntityMappingForm(request.POST, columns=list(ds.fields.values_list("name", flat=True)))
    if not form.is_valid():
        messages.error(request, _("Entity mapping refused: %(errors)s") % {"errors": form.errors.as_text()})
        return redirect("datahub:dataset-detail", slug=ds.slug)
    d = form.cleaned_data
    mapping = {k: d[k] or None for k in link_svc.MAPPING_KEYS} if d["type"] else {}
    try:
        link_svc.dataset_entity_mapping_set(dataset=ds, mapping=mapping)
    except link_svc.EntityMappingError as e:
        messages.error(request, _("Entity mapping refused: %(errors)s") % {"errors": e})
    else:
        if link_svc.dataset_entities_link_queue(dataset=ds, user_id=request.user.id):
            messages.success(request, _("Entity mapping saved; rows are being linked to entities."))
        else:
            messages.success(request, _("Entity mapping cleared."))
    return redirect("datahub:dataset-detail", slug=ds.slug)


@login_required
def import_upload(request, slug: str):
    _staff(request)
    ds = _managed(request, slug)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            imp = svc.dataset_import_preview(
                dataset=ds,
                upload=form.cleaned_data["file"],
                user=request.user,
                encoding=form.cleaned_data["encoding"],
                delimiter=form.cleaned_data["delimiter"],
            )
        except ImportFileError as e:
            form.add_error("file", e.message)
            status = 400
        else:
            return redirect("datahub:import-detail", pk=imp.id)
    elif request.method == "POST":
        status = 400  # as the series upload: an invalid form is the client's error
    return render(request, "datahub/dataset_import_upload.html", {"dataset": ds, "form": form}, status=status)


def _import(request, pk: int) -> DatasetImport:
    imp = get_object_or_404(DatasetImport.objects.select_related("dataset", "version"), pk=pk)
    if not sel.datasets_visible_to(request.user).filter(id=imp.dataset_id).exists():
        raise Http404
    if imp.created_by_id != request.user.id and not sel.dataset_can_manage(request.user, imp.dataset):
        raise Http404
    return imp


@login_required
def import_detail(request, pk: int):
    _staff(request)
    imp = _import(request, pk)
    names = [f["name"] for f in imp.schema]
    return render(
        request,
        "datahub/dataset_import.html",
        {
            "imp": imp,
            "dataset": imp.dataset,
            "types": DatasetField.Type.choices,
            "confirm_form": ConfirmForm(initial={"mode": imp.mode, "on_error": imp.on_error}),
            "preview_columns": ["row"] + names,
            "preview_rows": [[r.get(c) for c in ["row"] + names] for r in imp.preview.get("rows", [])],
            "location_roles": [
                ("lat", _("Latitude")),
                ("lon", _("Longitude")),
                ("geometry", _("Geometry (WKT/GeoJSON)")),
                ("area_name", _("Area name")),
                ("address", _("Address")),
            ],
            "column_names": names,
            "terminal": imp.status
            in (
                DatasetImport.Status.SUCCEEDED,
                DatasetImport.Status.PARTIAL,
                DatasetImport.Status.FAILED,
                DatasetImport.Status.CANCELLED,
            ),
        },
    )


@login_required
@require_POST
def import_confirm(request, pk: int):
    _staff(request)
    imp = _import(request, pk)
    if not sel.dataset_can_manage(request.user, imp.dataset):
        raise PermissionDenied
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a mode and what to do with invalid rows."))
        return redirect("datahub:import-detail", pk=imp.id)
    p = request.POST
    schema = []
    for i, f in enumerate(imp.schema):
        schema.append(
            {
                "name": f["name"],
                "type": p.get(f"type_{i}", f["type"]),
                "format": f.get("format", "") if p.get(f"type_{i}", f["type"]) == f["type"] else "",
                "unit": p.get(f"unit_{i}", ""),
                "required": p.get(f"required_{i}") == "on",
                "is_primary_key": p.get(f"pk_{i}") == "on",
            }
        )
    location = {role: p.get(f"loc_{role}", "") for role in ("lat", "lon", "geometry", "area_name", "address")}
    try:
        svc.dataset_import_confirm(
            imp=imp,
            schema=schema,
            location=location,
            mode=form.cleaned_data["mode"],
            on_error=form.cleaned_data["on_error"],
        )
    except ImportFileError as e:
        messages.error(request, e.message)
    return redirect("datahub:import-detail", pk=imp.id)


@login_required
@require_POST
def import_cancel(request, pk: int):
    _staff(request)
    imp = _import(request, pk)
    if svc.dataset_import_cancel(imp=imp):
        messages.info(request, _("Cancelling the import: nothing will be kept."))
    else:
        messages.error(request, _("This import has already finished."))
    return redirect("datahub:import-detail", pk=imp.id)
