"""Grid management: grid workers assigned to grids; a patrol report becomes a case in that grid."""

from collections.abc import Sequence

from django.db import transaction

from cityos.roles import Role
from datahub import facade
from governance.models import Case, Channel, GridAssignment
from governance.services.cases import case_attach, case_create
from governance.services.errors import CaseError, CasePermissionDenied
from governance.services.location import location_from_point


def grid_assign(*, grid_id: int, worker, active: bool = True) -> GridAssignment:
    area = facade.area_get(id=grid_id)
    if area is None or area.level != "grid":
        raise CaseError(f"grid: area #{grid_id} is not a grid", code="not_a_grid")
    if worker.role != Role.GRID_WORKER:
        raise CaseError(f"worker: {worker} is not a grid worker", code="not_a_grid_worker")
    obj, _ = GridAssignment.objects.update_or_create(grid_id=grid_id, worker=worker, defaults={"is_active": active})
    return obj


def grid_patrol_report(
    *,
    worker,
    title: str,
    description: str = "",
    lon: float,
    lat: float,
    category_id: int | None = None,
    priority: str = "normal",
    photos: Sequence = (),
) -> Case:
    """A grid worker reports what they found on patrol: the case is created in the worker's grid that
    contains the point (a worker may only report inside their own grids), with the photos taken on
    the spot attached to it in the same transaction (a report never lands without its photos)."""
    photos = list(photos)
    if len(photos) > MAX_PATROL_PHOTOS:
        raise CaseError(f"photos: at most {MAX_PATROL_PHOTOS} photos per report", code="too_many_photos")
    for photo in photos:
        if not _is_image(photo):
            raise CaseError(f"photos: {photo.name} is not an image (JPEG, PNG, WebP, HEIC)", code="not_an_image")
    grids = set(GridAssignment.objects.filter(worker=worker, is_active=True).values_list("grid_id", flat=True))
    if not grids:
        raise CasePermissionDenied("grid: you are not assigned to any grid")
    located = location_from_point(lon=lon, lat=lat)
    if located.grid_id not in grids:
        raise CaseError("location: the point is outside your grids", code="outside_grid")
    with transaction.atomic():
        case = case_create(
            channel=Channel.GRID,
            title=title,
            description=description,
            category_id=category_id,
            priority=priority,
            lon=lon,
            lat=lat,
            reporter_user=worker,
            actor=worker,
        )
        for photo in photos:
            case_attach(case_id=case.id, uploaded_file=photo, actor=worker)
    return case


# A phone's camera takes one photo per shot; six cover a scene from every side.
MAX_PATROL_PHOTOS = 6
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif")


def _is_image(uploaded_file) -> bool:
    content_type = (getattr(uploaded_file, "content_type", "") or "").lower()
    if content_type:
        return content_type.startswith("image/")
    return (uploaded_file.name or "").lower().endswith(IMAGE_SUFFIXES)
