"""IoT pages: device map, device page (history chart), datastream list, ingest monitor, and the
historical series file import (upload, mapping with a dry-run check, live progress, cancel).

The pages render server-side what they need first and then read the JSON API (series,
summary) and the live WebSocket feed (`datahub.observations`, `datahub.run`) from the browser.
Devices and datastreams are scoped by department (datahub.iot.selectors).
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityos.roles import Role
from datahub.core.files import ImportFileError
from datahub.core.forms import UploadForm
from datahub.iot import selectors as sel
from datahub.iot.models import IngestBatch, SeriesImport
from datahub.iot.services import series_imports as series_svc


@login_required
def device_map(request):
    devices = []
    for d in (
        sel.devices_visible_to(request.user).filter(point__isnull=False).prefetch_related("datastreams__latest")[:5000]
    ):
        streams = []
        for s in d.datastreams.all():
            latest = s.latest if hasattr(s, "latest") else None
            streams.append({"id": s.id, "metric": s.metric, "unit": s.unit, "value": latest.value if latest else None})
        devices.append(
            {
                "id": d.id,
                "key": d.key,
                "name": d.entity.name,
                "type": d.get_device_type_display(),
                "status": d.status,
                "lon": d.point.x,
                "lat": d.point.y,
                "streams": streams,
            }
        )
    return render(request, "datahub/iot/device_map.html", {"devices": devices})


@login_required
def device_detail(request, pk: int):
    device = get_object_or_404(sel.devices_visible_to(request.user), pk=pk)
    streams = list(device.datastreams.select_related("latest").order_by("metric"))
    times = [s.latest.time for s in streams if hasattr(s, "latest")]
    latest_time_json = json.dumps(max(times).isoformat()) if times else "null"
    return render(
        request,
        "datahub/iot/device_detail.html",
        {"device": device, "streams": streams, "latest_time_json": latest_time_json},
    )


@login_required
def datastream_list(request):
    qs = sel.datastreams_visible_to(request.user).select_related("device__entity")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(device__key__icontains=q) | qs.filter(metric__icontains=q)
    page = Paginator(qs.order_by("id"), 50).get_page(request.GET.get("page"))
    return render(request, "datahub/iot/datastream_list.html", {"page": page, "q": q})


@login_required
def ingest_monitor(request):
    summary = sel.ingest_monitor(minutes=15, with_errors=request.user.is_city_wide)
    return render(
        request,
        "datahub/iot/ingest_monitor.html",
        {
            "summary": summary,
            "with_errors": request.user.is_city_wide,
            # The live refresh writes channel names too: by their labels, never their codes.
            "channel_labels": {value: str(label) for value, label in IngestBatch.Channel.choices},
        },
    )


# --- historical series file imports -------------------------------------------------------------

IMPORTERS = (Role.ADMINISTRATOR, Role.DEPARTMENT_OFFICER)
TIME_PARTS = ("year", "month", "day", "hour", "minute")
TIME_FORMATS = [
    ("", gettext_lazy("ISO 8601 (2025-03-01 08:00:00, 2025-03-01T08:00+08:00)")),
    ("epoch", gettext_lazy("Unix time in seconds")),
    ("epoch_ms", gettext_lazy("Unix time in milliseconds")),
]


def _importer(request) -> None:
    if not (request.user.is_superuser or request.user.role in IMPORTERS):
        raise PermissionDenied


def _series_import(request, pk: int) -> SeriesImport:
    return get_object_or_404(sel.series_imports_visible_to(request.user), pk=pk)


@login_required
def series_imports(request):
    """Upload a series file (step 1) and the list of earlier imports."""
    _importer(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            imp = series_svc.series_import_preview(
                upload=form.cleaned_data["file"],
                user=request.user,
                encoding=form.cleaned_data["encoding"],
                delimiter=form.cleaned_data["delimiter"],
            )
        except ImportFileError as e:
            form.add_error("file", e.message)
            status = 400
        else:
            return redirect("datahub:iot-import", pk=imp.id)
    elif request.method == "POST":
        status = 400
    page = Paginator(sel.series_imports_visible_to(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "datahub/iot/series_imports.html", {"form": form, "page": page}, status=status)


def _mapping_from_post(post, columns: list[str]) -> dict:
    """The mapping form's fields as a ColumnMapping JSON (the service checks it)."""
    m: dict = {"layout": post.get("layout", "long"), "tz": post.get("tz", "").strip() or "UTC"}
    mode = post.get("time_mode", "column")
    if mode == "parts":
        m["time_parts"] = {p: post.get(f"part_{p}") for p in TIME_PARTS if post.get(f"part_{p}")}
    elif mode == "start":
        m["time_start"] = post.get("time_start", "").strip() or None
        m["time_step_s"] = post.get("time_step_s", "").strip() or None
    else:
        m["time_column"] = post.get("time_column") or None
        fmt = post.get("time_format", "")
        m["time_format"] = post.get("time_pattern", "").strip() if fmt == "pattern" else fmt
    if m["layout"] == "wide":
        if post.get("wide_mode") == "devices":
            m["metric"] = post.get("wide_metric", "").strip() or None
            m["device_key_template"] = post.get("device_key_template", "").strip() or "{}"
        else:
            m["column_datastreams"] = {
                c: post.get(f"ds_{i}") for i, c in enumerate(columns) if post.get(f"ds_{i}", "").strip()
            }
    else:
        if post.get("device_mode") == "fixed":
            m["device_key"] = post.get("device_key", "").strip() or None
        else:
            m["device_column"] = post.get("device_column") or None
        if post.get("value_mode") == "tidy":
            m["metric_column"] = post.get("metric_column") or None
            m["value_column"] = post.get("value_column") or None
        else:
            m["value_columns"] = {
                c: post.get(f"metric_{i}").strip() for i, c in enumerate(columns) if post.get(f"metric_{i}", "").strip()
            }
    na = post.get("na_values")
    if na is not None and na.strip():
        m["na_values"] = [v.strip() for v in na.split(",")] + [""]
    return {k: v for k, v in m.items() if v is not None}


def _form_state(imp: SeriesImport, post=None) -> dict:
    """What the mapping form shows: the posted choices, else the suggested mapping."""
    columns = imp.preview.get("columns", [])
    if post is not None:
        return {"post": post, "mapping": _mapping_from_post(post, columns)}
    return {"post": None, "mapping": imp.preview.get("suggested", {})}


@login_required
def series_import_detail(request, pk: int):
    """Step 2 (previewed): mapping form, check, confirm. Step 3: live progress and the result."""
    imp = _series_import(request, pk)
    context = {"imp": imp, "run": imp.run, "terminal": imp.status in series_svc.TERMINAL}
    status = 200
    if imp.status == SeriesImport.Status.PREVIEWED:
        _importer(request)
        state = _form_state(imp, request.POST if request.method == "POST" else None)
        mapping = state["mapping"]
        if request.method == "POST":
            try:
                if request.POST.get("action") == "confirm":
                    series_svc.series_import_confirm(imp=imp, mapping=mapping, user=request.user)
                    messages.success(request, _("The import is queued; it runs in the background."))
                    return redirect("datahub:iot-import", pk=imp.id)
                context["report"] = series_svc.series_mapping_check(imp=imp, mapping=mapping, user=request.user)
            except series_svc.SeriesImportError as e:
                context["mapping_error"] = e.message
                context["mapping_error_field"] = e.field
                status = 400
        columns = imp.preview.get("columns", [])
        wide_ds = mapping.get("column_datastreams", {})
        value_cols = mapping.get("value_columns", {})
        context.update(
            mapping=mapping,
            mapping_json=json.dumps(mapping, ensure_ascii=False, indent=1),
            columns=[
                {
                    "i": i,
                    "name": c,
                    "metric": value_cols.get(c, ""),
                    "datastream": str(wide_ds.get(c, "")),
                }
                for i, c in enumerate(columns)
            ],
            time_mode="parts" if mapping.get("time_parts") else ("start" if mapping.get("time_start") else "column"),
            time_format_choice=(
                mapping.get("time_format", "")
                if mapping.get("time_format", "") in ("", "iso", "epoch", "epoch_ms")
                else "pattern"
            ),
            time_formats=TIME_FORMATS,
            time_parts=[(p, (mapping.get("time_parts") or {}).get(p, "")) for p in TIME_PARTS],
            datastreams=series_svc.datastreams_for_mapping(request.user),
            na_values=", ".join(v for v in mapping.get("na_values", ["NA", "NaN", "nan", "null"]) if v),
        )
    return render(request, "datahub/iot/series_import.html", context, status=status)


@login_required
@require_POST
def series_import_cancel(request, pk: int):
    imp = _series_import(request, pk)
    if series_svc.series_import_cancel(imp=imp):
        messages.info(request, _("Cancelling: the import stops before its next chunk."))
    else:
        messages.error(request, _("This import has already finished."))
    return redirect("datahub:iot-import", pk=imp.id)


__all__ = [
    "datastream_list",
    "device_detail",
    "device_map",
    "ingest_monitor",
    "series_import_cancel",
    "series_import_detail",
    "series_imports",
]
