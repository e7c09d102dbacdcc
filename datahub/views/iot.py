"""IoT pages: device map, device page (history chart), datastream list, ingest monitor.

The pages render server-side what they need first and then read the JSON API (series,
summary) and the live WebSocket feed (`datahub.observations`) from the browser.
"""

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from datahub.selectors import iot as sel


@login_required
def device_map(request):
    devices = []
    for d in sel.device_list().filter(point__isnull=False).prefetch_related("datastreams__latest")[:5000]:
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
    device = get_object_or_404(sel.device_list(), pk=pk)
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
    qs = sel.datastream_list().select_related("device__entity")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(device__key__icontains=q) | qs.filter(metric__icontains=q)
    page = Paginator(qs.order_by("id"), 50).get_page(request.GET.get("page"))
    return render(request, "datahub/iot/datastream_list.html", {"page": page, "q": q})


@login_required
def ingest_monitor(request):
    return render(request, "datahub/iot/ingest_monitor.html", {"summary": sel.ingest_monitor(minutes=15)})


__all__ = ["datastream_list", "device_detail", "device_map", "ingest_monitor"]
