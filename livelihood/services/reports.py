"""Citizen reports from the portal: validated, stored, and handed to governance as `case.requested`.

Governance's progress comes back through `governance.case_updated` / `case_closed` (see subscribers.py);
the citizen follows it on the tracking page with the report's number and its secret token.
"""

import secrets

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from cityos import bus
from datahub import facade
from livelihood.models import Report, ReportCategory

from .errors import LivelihoodError

MAX_PHOTO_BYTES = 10 * 1024 * 1024
_PHOTO_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "HEIC", "MPO"}
# A category's governance counterpart (its dispatch rules find the department); others are classified.
GOVERNANCE_CATEGORY = {
    "noise": "noise",
    "sanitation": "garbage",
    "roads": "road-damage",
    "lighting": "streetlight",
    "water": "flooding",
}


def check_photo(upload) -> None:
    """≤10 MB and really an image (Pillow opens and verifies it; the extension and type are not trusted)."""
    from PIL import Image, UnidentifiedImageError

    if upload.size > MAX_PHOTO_BYTES:
        raise LivelihoodError("photo: larger than 10 MB", field="photo", code="photo_too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LivelihoodError("photo: not an image", field="photo", code="photo_not_image") from exc
    finally:
        upload.seek(0)
    if fmt not in _PHOTO_FORMATS:
        raise LivelihoodError(f"photo: {fmt} images are not accepted (JPEG, PNG, WebP)", field="photo")


def locate_in_city(lon, lat) -> int:
    """The deepest area of the city containing the point; 400 naming `location` when missing or outside."""
    if lon is None or lat is None:
        raise LivelihoodError("location: pick the place on the map or use your position", field="location")
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise LivelihoodError("location: lon/lat must be numbers", field="location") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise LivelihoodError("location: coordinates out of range", field="location")
    area_id = facade.area_locate_many(points=[(lon, lat)])[0]
    if area_id is None:
        raise LivelihoodError("location: the point is outside the city", field="location", code="outside_city")
    return area_id


def _number() -> str:
    return f"R{timezone.localdate():%y%m%d}{secrets.randbelow(10**6):06d}"


@transaction.atomic
def report_submit(
    *,
    category: str,
    description: str,
    lon=None,
    lat=None,
    photo=None,
    address: str = "",
    citizen=None,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
) -> Report:
    if category not in ReportCategory.values:
        raise LivelihoodError(f"category: unknown category {category!r}", field="category")
    description = (description or "").strip()
    if len(description) < 5:
        raise LivelihoodError("description: tell us a little more (at least 5 characters)", field="description")
    if len(description) > 4000:
        raise LivelihoodError("description: at most 4000 characters", field="description")
    area_id = locate_in_city(lon, lat)
    if photo is not None:
        check_photo(photo)
    citizen = citizen if getattr(citizen, "pk", None) else None
    if citizen is not None:
        reporter_email = reporter_email or citizen.email
        reporter_name = reporter_name or str(citizen)
    for _attempt in range(5):
        number = _number()
        if not Report.objects.filter(number=number).exists():
            break
    report = Report(
        number=number,
        token=secrets.token_urlsafe(24),  # 192 random bits
        category=category,
        description=description,
        point=Point(float(lon), float(lat), srid=4326),
        area_id=area_id,
        address=address[:300],
        citizen=citizen,
        reporter_name=reporter_name[:100],
        reporter_phone=reporter_phone[:32],
        reporter_email=reporter_email,
        history=[{"status": "submitted", "at": timezone.now().isoformat(), "note": ""}],
    )
    if photo is not None:
        report.photo.save(f"{number}{_ext(photo.name)}", photo, save=False)
    report.save()
    bus.publish(
        "case.requested",
        {
            "origin": {"kind": "portal_report", "id": report.id},
            "channel": "portal",
            "title": description[:60],
            "description": description,
            "category": GOVERNANCE_CATEGORY.get(category),
            "department_id": None,
            "priority": "normal",
            "lon": float(lon),
            "lat": float(lat),
            "address": report.address,
            "area_id": area_id,
            "reporter_name": report.reporter_name,
            "reporter_phone": report.reporter_phone,
            "reporter_email": report.reporter_email,
            "attributes": {"portal_category": category, "report_number": number},
        },
    )
    facade.event_record(
        type="livelihood.report_submitted",
        area_id=area_id,
        lon=float(lon),
        lat=float(lat),
        actor_id=getattr(citizen, "pk", None),
        object_ref=f"livelihood:report:{report.id}",
        payload={"category": category},
    )
    return report


def _ext(name: str) -> str:
    name = (name or "").lower()
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".gif"):
        if name.endswith(ext):
            return ext
    return ".jpg"


def report_by_token(*, number: str, token: str) -> Report | None:
    """The report only when both the number and its token match (constant-time on the token)."""
    report = Report.objects.filter(number=number).first()
    if report is None or not token or not secrets.compare_digest(report.token, str(token)):
        return None
    return report


@transaction.atomic
def report_apply_case_event(*, report_id: int, payload: dict, closed: bool) -> bool:
    """Mirror a governance case step onto the report (idempotent on the step's time and status)."""
    report = Report.objects.select_for_update().filter(pk=report_id).first()
    if report is None:
        return False
    entry = {"status": payload.get("status") or "", "at": payload.get("at") or "", "note": payload.get("note") or ""}
    if any(h.get("at") == entry["at"] and h.get("status") == entry["status"] for h in report.history):
        return False
    report.history = [*report.history, entry]
    report.status = entry["status"] or report.status
    report.case_id = payload.get("case_id") or report.case_id
    report.case_number = payload.get("tracking_number") or report.case_number
    if payload.get("department_id"):
        report.department_id = payload["department_id"]
    if entry["note"] and payload.get("action") in ("resolve", "close", "reject"):
        report.public_note = entry["note"]
    if closed:
        report.closed_at = timezone.now()
    elif report.closed_at and payload.get("action") == "reopen":
        report.closed_at = None
    report.save()
    if closed:
        facade.event_record(
            type="livelihood.report_closed",
            area_id=report.area_id,
            object_ref=f"livelihood:report:{report.id}",
            payload={"status": report.status, "case_id": report.case_id},
        )
    return True
