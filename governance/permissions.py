"""Who may do what with a case. Two kinds of actors:

- dispatchers: members of a dispatch centre (the 12345 hotline centre) and city-wide leaders/administrators;
  they dispatch, reassign, reject, verify, close, reopen, merge and supervise;
- handlers: officers of the case's department (or a parent department, via cityos.scoping) and grid
  workers of the case's grid; they accept, start, suspend, resume, resolve and return.
"""

from cityos.roles import Role
from cityos.scoping import can_see_department
from datahub import facade
from governance.models import DispatchCentre, GridAssignment
from governance.services.refcache import RefCache

_DISPATCHER_ROLES = {Role.ADMINISTRATOR, Role.CITY_LEADER}
_HANDLER_ROLES = {Role.DEPARTMENT_OFFICER, Role.GRID_WORKER, Role.ADMINISTRATOR, Role.CITY_LEADER}


def _load_centres() -> frozenset[int]:
    ids: set[int] = set()
    for dept_id in DispatchCentre.objects.values_list("department_id", flat=True):
        ids |= facade.department_subtree_ids(department_id=dept_id)
    return frozenset(ids)


# Checked on every request and every transition; dispatch centres change once in a city's life.
_centres = RefCache(_load_centres)


def dispatch_centre_department_ids() -> set[int]:
    return set(_centres.get())


def is_dispatcher(user) -> bool:
    if user is None:
        return True  # the system itself (subscribers, beat tasks, citizen ratings)
    if not user.is_authenticated:
        return False
    if user.is_superuser or user.role in _DISPATCHER_ROLES:
        return True
    return user.role == Role.DEPARTMENT_OFFICER and user.department_id in dispatch_centre_department_ids()


def can_handle(user, case) -> bool:
    if user is None:
        return True
    if not user.is_authenticated or user.role not in _HANDLER_ROLES and not user.is_superuser:
        return False
    if user.role == Role.GRID_WORKER and case.grid_id:
        if GridAssignment.objects.filter(worker=user, grid_id=case.grid_id, is_active=True).exists():
            return True
    return case.department_id is not None and can_see_department(user, case.department_id)


def can_view(user, case) -> bool:
    if user is None or (user.is_authenticated and user.is_city_wide) or is_dispatcher(user):
        return True
    return can_handle(user, case)


def can_see_reporter(user, case) -> bool:
    """May `user` see the reporter's name, phone and e-mail unmasked (case detail in the API, the
    case page, exports)? Only the people who handle the case: dispatchers (the hotline centre,
    leaders, administrators), officers of the case's department (or a parent), its assignee and
    the reporter themselves (a grid worker's own patrol report). Everyone else who may open the
    case (analysts, grid workers of the grid, other roles) sees them masked and may unmask them by
    an explicit, logged action (governance.services.privacy)."""
    if user is None:
        return True
    if not user.is_authenticated:
        return False
    if user.id in (case.assignee_id, case.reporter_user_id) or is_dispatcher(user):
        return True
    return (
        user.role == Role.DEPARTMENT_OFFICER
        and case.department_id is not None
        and can_see_department(user, case.department_id)
    )
