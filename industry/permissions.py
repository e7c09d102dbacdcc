"""Who may see and do what in the industry wing. One rule per resource, used by lists, details,
writes, custom actions, pages, exports and search alike.

- city-wide roles (leader, analyst, administrator): every enterprise; analysts only read;
- department officers (and grid workers): enterprises owned by their department subtree, policies
  of every department (they are public), grants and appeals of the enterprises they see;
- enterprise users: only the enterprises they are members of; active policies; their own appeals;
- external developers: nothing of the registry (the API's open data comes through the datahub).
Legal representatives are personal data: masked for roles that do not handle the enterprise.
"""

from django.db.models import QuerySet

from cityos.roles import STAFF_ROLES, Role
from cityos.scoping import can_see_department, scope_by_department
from industry.models import Appeal, Enterprise, Grant, Policy

_WRITERS = {Role.ADMINISTRATOR, Role.CITY_LEADER, Role.DEPARTMENT_OFFICER}
_STAFF = STAFF_ROLES


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in _STAFF))


def is_enterprise_user(user) -> bool:
    return bool(user and user.is_authenticated and not user.is_superuser and user.role == Role.ENTERPRISE_USER)


def enterprises_visible_to(user) -> QuerySet[Enterprise]:
    qs = Enterprise.objects.all()
    if not user or not user.is_authenticated:
        return qs.none()
    if is_enterprise_user(user):
        return qs.filter(members__user=user)
    if not is_staff(user):
        return qs.none()
    return scope_by_department(qs, user)


def enterprise_can(user, action: str, ent: Enterprise) -> bool:
    """action: view | edit | appeal | apply."""
    if not user or not user.is_authenticated:
        return False
    if is_enterprise_user(user):
        return action in ("view", "appeal", "apply") and ent.members.filter(user=user).exists()
    if action in ("appeal", "apply"):
        return False
    if not is_staff(user):
        return False
    in_scope = user.is_city_wide or can_see_department(user, ent.department_id)
    if action == "view":
        return in_scope
    return in_scope and (user.is_superuser or user.role in _WRITERS)


def sees_personal_data(user, ent: Enterprise | None = None) -> bool:
    """The legal representative's name: officers who handle the enterprise, its own users."""
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser or user.role in (Role.ADMINISTRATOR, Role.CITY_LEADER):
        return True
    if is_enterprise_user(user):
        return True  # only ever sees its own enterprises
    if user.role == Role.DEPARTMENT_OFFICER:
        return ent is None or can_see_department(user, ent.department_id)
    return False


def policies_visible_to(user) -> QuerySet[Policy]:
    qs = Policy.objects.all()
    if not user or not user.is_authenticated:
        return qs.none()
    if is_enterprise_user(user):
        return qs.filter(status=Policy.Status.ACTIVE)
    return qs if is_staff(user) else qs.none()


def policy_can_manage(user, policy: Policy | None = None, department_id: int | None = None) -> bool:
    if not is_staff(user) or not (user.is_superuser or user.role in _WRITERS):
        return False
    if user.is_superuser or user.role in (Role.ADMINISTRATOR, Role.CITY_LEADER):
        return True
    dept = policy.department_id if policy is not None else department_id
    return dept is not None and can_see_department(user, dept)


def grants_visible_to(user) -> QuerySet[Grant]:
    """Grants of enterprises the user sees, and (officers) every grant of policies their department issued."""
    qs = Grant.objects.filter(enterprise__in=enterprises_visible_to(user))
    if is_staff(user) and not user.is_city_wide:
        qs = qs | scope_by_department(Grant.objects.all(), user, field="policy__department")
    return qs


def grants_decidable_by(user) -> QuerySet[Grant]:
    """Grants an officer may confirm or reject: those of policies issued by their department subtree."""
    if not is_staff(user) or not (user.is_superuser or user.role in _WRITERS):
        return Grant.objects.none()
    if user.is_superuser or user.role in (Role.ADMINISTRATOR, Role.CITY_LEADER):
        return Grant.objects.all()
    return scope_by_department(Grant.objects.all(), user, field="policy__department")


def appeals_visible_to(user) -> QuerySet[Appeal]:
    return Appeal.objects.filter(enterprise__in=enterprises_visible_to(user))
