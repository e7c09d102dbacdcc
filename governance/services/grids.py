"""Grid management: grid workers assigned to grids; a patrol report becomes a case in that grid."""

from django.db import transaction

from cityos.roles import Role
from datahub import facade
from governance.models import Case, Channel, GridAssignment
from governance.services.cases import case_create
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
) -> Case:
    """A grid worker reports what they found on patrol: the case is created in the worker's grid that
    contains the point (a worker may only report inside their own grids)."""
    grids = set(GridAssignment.objects.filter(worker=worker, is_active=True).values_list("grid_id", flat=True))
    if not grids:
        raise CasePermissionDenied("grid: you are not assigned to any grid")
    located = location_from_point(lon=lon, lat=lat)
    if located.grid_id not in grids:
        raise CaseError("location: the point is outside your grids", code="outside_grid")
    with transaction.atomic():
        return case_create(
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
