"""Reads for the Open311 GeoReport v2 endpoints."""

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from governance.models import OPEN_STATUSES, Case, Category

# The spec: without dates, the last 90 days; never more than 1000 requests per response.
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000


def open311_services() -> QuerySet[Category]:
    return (
        Category.objects.filter(is_active=True, service_code__isnull=False)
        .exclude(service_code="")
        .select_related("parent")
        .prefetch_related("attributes")
        .order_by("service_code")
    )


def open311_status(case: Case) -> str:
    return "open" if case.status in OPEN_STATUSES else "closed"


def open311_requests(
    *,
    ids: list[str] | None = None,
    service_codes: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: list[str] | None = None,
) -> list[Case]:
    qs = Case.objects.select_related("category", "department").order_by("-created_at", "-id")
    if ids:  # the spec: service_request_id "overrides all other arguments"
        return list(qs.filter(tracking_number__in=ids)[:MAX_REQUESTS])
    if start is None and end is None:
        start = timezone.now() - DEFAULT_WINDOW
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    if service_codes:
        qs = qs.filter(category__service_code__in=service_codes)
    if statuses:
        wanted = set(statuses)
        if wanted == {"open"}:
            qs = qs.filter(status__in=OPEN_STATUSES)
        elif wanted == {"closed"}:
            qs = qs.exclude(status__in=OPEN_STATUSES)
    return list(qs[:MAX_REQUESTS])


def open311_request_dict(case: Case) -> dict:
    closed = open311_status(case) == "closed"
    updated = (case.closed_at or case.resolved_at or case.updated_at) if closed else case.updated_at
    cat = case.category
    return {
        "service_request_id": case.tracking_number,
        "status": open311_status(case),
        "status_notes": case.status_notes or None,
        "service_name": (cat.name if cat else None),
        "service_code": (cat.service_code or cat.code) if cat else "",
        "description": (case.description or case.title)[:4000],
        "agency_responsible": case.department.name if case.department_id else case.attributes.get("agency_name"),
        "service_notice": None,
        "requested_datetime": timezone.localtime(case.created_at).isoformat(),
        "updated_datetime": timezone.localtime(updated).isoformat() if updated else None,
        "expected_datetime": timezone.localtime(case.due_at).isoformat() if case.due_at else None,
        "address": case.address or None,
        "address_id": None,
        "zipcode": case.attributes.get("zipcode") or None,
        "lat": case.location.y if case.location else None,
        "long": case.location.x if case.location else None,
        "media_url": case.media_url or None,
    }


def open311_service_dict(cat: Category) -> dict:
    return {
        "service_code": cat.service_code,
        "service_name": cat.name,
        "description": cat.description or cat.name_en or None,
        "metadata": bool(list(cat.attributes.all())),
        "type": "realtime",
        "keywords": cat.keywords or None,
        "group": cat.group or (cat.parent.name if cat.parent_id else None),
    }


def open311_definition_dict(cat: Category) -> dict:
    return {
        "service_code": cat.service_code,
        "attributes": [
            {
                "variable": a.variable,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.datatype_description or None,
                "order": a.order,
                "description": a.description,
                "values": [{"key": str(v["key"]), "name": str(v["name"])} for v in a.values],
            }
            for a in cat.attributes.all()
        ],
    }
