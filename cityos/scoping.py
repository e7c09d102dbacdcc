"""Department scoping: which departments' data a user may see.

City-wide roles (leader, analyst, administrator) see everything; everyone else sees their own
department and its sub-departments. Apps call `scope_by_department` in their selectors.
"""

from django.db.models import QuerySet, Subquery

from datahub.core.models import Department


def visible_department_ids(user) -> set[int] | None:
    """None means "all departments"; an empty set means none."""
    if not user or not user.is_authenticated:
        return set()
    if user.is_city_wide:
        return None
    if not user.department_id:
        return set()
    # One query for the subtree (the root's path as a subquery): every scoped page pays it.
    root_path = Department.objects.filter(pk=user.department_id).values("path")[:1]
    return set(Department.objects.filter(path__startswith=Subquery(root_path)).values_list("id", flat=True))


def scope_by_department(qs: QuerySet, user, field: str = "department") -> QuerySet:
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    return qs.filter(**{f"{field}__in": ids})


def can_see_department(user, department_id: int | None) -> bool:
    ids = visible_department_ids(user)
    return ids is None or department_id in ids
