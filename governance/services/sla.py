"""Deadlines: the SLA policy of a case (category, then its parents, then the default) in working hours."""

from datetime import datetime

from governance.models import Priority, SlaPolicy
from governance.services.calendar import add_working_hours
from governance.services.dispatch import category_ancestor_ids
from governance.services.refcache import RefCache

# Used when no policy matches: working hours to resolve per priority (12345 practice: urgent same day).
DEFAULT_HOURS = {Priority.URGENT: 4, Priority.HIGH: 18, Priority.NORMAL: 45, Priority.LOW: 90}
DEFAULT_WARN_HOURS = 4


_policies = RefCache(
    lambda: {
        (p["category_id"], p["priority"]): (p["resolve_hours"], p["warn_hours"])
        for p in SlaPolicy.objects.values("category_id", "priority", "resolve_hours", "warn_hours")
    }
)


def sla_policy_for(*, category_id: int | None, priority: str) -> tuple[float, float]:
    """(resolve_hours, warn_hours)."""
    chain = category_ancestor_ids(category_id) + [None]
    policies = _policies.get()
    for cid in chain:
        for prio in (priority, ""):
            p = policies.get((cid, prio))
            if p is not None:
                return p
    return float(DEFAULT_HOURS.get(priority, 45)), float(DEFAULT_WARN_HOURS)


def sla_deadline(*, start: datetime, category_id: int | None, priority: str) -> tuple[datetime, float]:
    hours, _warn = sla_policy_for(category_id=category_id, priority=priority)
    return add_working_hours(start=start, hours=hours), hours
