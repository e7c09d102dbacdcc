"""Reads of monitoring: alerts and rules a user may see (department scoping)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from cityos.scoping import visible_department_ids
from datahub.models import Alert, AlertRule


def alerts_visible(user) -> QuerySet[Alert]:
    """Alerts of the user's departments (city-wide roles: all), plus those assigned to the user."""
    qs = Alert.objects.select_related("rule", "assignee", "area", "acknowledged_by").order_by("-raised_at", "-id")
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    return qs.filter(Q(department_id__in=ids) | Q(assignee_id=user.id) | Q(department__isnull=True))


def rules_visible(user) -> QuerySet[AlertRule]:
    qs = AlertRule.objects.select_related("department", "area").order_by("name", "id")
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    return qs.filter(Q(department_id__in=ids) | Q(department__isnull=True))


def alert_counts(user) -> dict:
    qs = alerts_visible(user).filter(status="active")
    return {
        "active": qs.count(),
        "unacknowledged": qs.filter(acknowledged=False).count(),
        "critical": qs.filter(severity="critical").count(),
    }
