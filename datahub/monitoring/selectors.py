"""Reads of monitoring: alerts and rules a user may see (department scoping)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from cityos.models import EventDelivery, EventSubscription
from cityos.roles import CITY_WIDE_ROLES, Role, is_staff_role, staff_users
from cityos.scoping import can_see_department, scope_by_department, visible_department_ids
from datahub.core.models import Department
from datahub.monitoring.models import Alert, AlertRule, EscalationPolicy


def alerts_visible(user) -> QuerySet[Alert]:
    """Alerts of the user's departments (city-wide roles: all), plus those assigned to the user.
    Users without a staff role (external developers) see none."""
    qs = Alert.objects.select_related("rule", "assignee", "area", "acknowledged_by").order_by("-raised_at", "-id")
    if not is_staff_role(user):
        return qs.none()
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    return qs.filter(Q(department_id__in=ids) | Q(assignee_id=user.id) | Q(department__isnull=True))


def rules_visible(user) -> QuerySet[AlertRule]:
    """Staff roles see their department subtree's rules and the city-wide ones (no department)."""
    qs = AlertRule.objects.select_related("department", "area").order_by("name", "id")
    if not is_staff_role(user):
        return qs.none()
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    return qs.filter(Q(department_id__in=ids) | Q(department__isnull=True))


RULE_ACTIONS = ("view", "create", "change", "delete", "preview")


def rule_can(user, action: str, rule: AlertRule | None = None, *, department_id: int | None = None) -> bool:
    """The one rule for alert rules (API, rule editor page, previews).

    Viewing and previewing a saved rule: whoever sees it (rules_visible). Creating, changing and
    deleting: the roles that manage monitoring (administrators, city leaders, department officers)
    within their departments; a city-wide rule (no department) notifies the whole city, so only
    administrators create, change or delete those. For "create" give `department_id`; for
    "change" give the rule and, when it moves, the new `department_id` too (both must be allowed).
    Previewing an unsaved rule (no `rule`): the roles that may create one.
    """
    if action not in RULE_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if action in ("view", "preview") and rule is not None:
        return rules_visible(user).filter(pk=rule.pk).exists()
    if action == "preview":
        return can_manage(user)
    if action == "create":
        return can_manage_department(user, department_id)
    if rule is None or not rules_visible(user).filter(pk=rule.pk).exists():
        return False
    if not can_manage_department(user, rule.department_id):
        return False
    return action == "delete" or department_id == rule.department_id or can_manage_department(user, department_id)


def assignable_users(user) -> QuerySet:
    """Whom `user` may assign an alert to: active staff-role users of the user's departments
    (city-wide roles: every staff user). Never an external developer."""
    qs = staff_users().order_by("username")
    ids = visible_department_ids(user)
    return qs if ids is None else qs.filter(department_id__in=ids)


def alert_counts(user) -> dict:
    qs = alerts_visible(user).filter(status="active")
    return {
        "active": qs.count(),
        "unacknowledged": qs.filter(acknowledged=False).count(),
        "critical": qs.filter(severity="critical").count(),
    }


# --- escalation chains and webhooks: who sees and who changes what -------------------------------

# Roles that may change escalation chains and webhooks (within their department scope). Analysts
# and grid workers read chains only; external developers use none of the monitoring pages.
MANAGE_ROLES = frozenset({Role.ADMINISTRATOR, Role.CITY_LEADER, Role.DEPARTMENT_OFFICER})


def is_administrator(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role == Role.ADMINISTRATOR))


def can_manage(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role in MANAGE_ROLES))


def can_manage_department(user, department_id: int | None) -> bool:
    """Change the chain or webhooks of this department (None: the city-wide webhooks, admins only)."""
    if not can_manage(user):
        return False
    if department_id is None:
        return is_administrator(user)
    return can_see_department(user, department_id)


def departments_manageable(user) -> QuerySet[Department]:
    if not can_manage(user):
        return Department.objects.none()
    return scope_by_department(Department.objects.filter(is_active=True), user, field="id").order_by("path")


def escalation_policies_visible(user) -> QuerySet[EscalationPolicy]:
    qs = EscalationPolicy.objects.select_related("department").prefetch_related("levels__users")
    return scope_by_department(qs, user).order_by("department__path")


def webhooks_visible(user) -> QuerySet:
    """Monitoring webhooks (the city's own event subscriptions: no application) a user may see and
    change: of their departments; city-wide ones for admins."""
    qs = EventSubscription.objects.filter(application__isnull=True).select_related("department").order_by("name", "id")
    if is_administrator(user):
        return qs
    if not can_manage(user):
        return qs.none()
    ids = visible_department_ids(user)
    return qs.filter(department__isnull=False) if ids is None else qs.filter(department_id__in=ids)


def escalation_recipients(user):
    """Users an escalation level may name: the user's departments, the departments above theirs,
    and the city-wide roles (escalation climbs upwards)."""
    users = staff_users()
    ids = visible_department_ids(user)
    if ids is None:
        return users.order_by("username")
    own = Department.objects.filter(id=user.department_id).values_list("path", flat=True).first() or ""
    above = {int(p) for p in own.strip("/").split("/") if p}
    return users.filter(
        Q(department_id__in=ids | above) | Q(role__in=[r.value for r in CITY_WIDE_ROLES]) | Q(is_superuser=True)
    ).order_by("username")


def delivery_counts(endpoint_ids: list[int]) -> dict[int, dict[str, int]]:
    """{subscription id: {status: count}} over the delivery log (one grouped query)."""
    out: dict[int, dict[str, int]] = {}
    rows = (
        EventDelivery.objects.filter(subscription_id__in=endpoint_ids)
        .values_list("subscription_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for endpoint_id, status, n in rows:
        out.setdefault(endpoint_id, {})[status] = n
    return out
