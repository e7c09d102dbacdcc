"""Escalation chains: one per department, levels "after N minutes unacknowledged -> these users,
roles and channels". The beat task in `notify.escalate_due` walks them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cityos.roles import Role
from datahub.monitoring.models import Alert, Channel, EscalationLevel, EscalationPolicy


@dataclass
class LevelSpec:
    after_minutes: int
    user_ids: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)


def _check_levels(levels: list[LevelSpec]) -> None:
    if not levels:
        raise ValueError("levels: a chain needs at least one level")
    for n, level in enumerate(levels, 1):
        if level.after_minutes < 1:
            raise ValueError(f"levels[{n}].after_minutes: must be at least 1 minute")
        if not level.user_ids and not level.roles:
            raise ValueError(f"levels[{n}]: name at least one user or role to notify")
        bad = [r for r in level.roles if r not in Role.values]
        if bad:
            raise ValueError(f"levels[{n}].roles: unknown roles {', '.join(bad)}")
        bad = [c for c in level.channels if c not in Channel.values]
        if bad:
            raise ValueError(f"levels[{n}].channels: unknown channels {', '.join(bad)}")
    wanted = {u for level in levels for u in level.user_ids}
    found = set(get_user_model().objects.filter(id__in=wanted, is_active=True).values_list("id", flat=True))
    if wanted - found:
        raise ValueError(f"levels.users: no active user with id {sorted(wanted - found)[0]}")


@transaction.atomic
def escalation_policy_save(
    *,
    department_id: int,
    levels: list[LevelSpec],
    repeat_minutes: int = 30,
    is_active: bool = True,
    policy: EscalationPolicy | None = None,
) -> EscalationPolicy:
    """Create or replace a department's chain; levels are numbered 1..n in the order given.

    Open, unacknowledged alerts of the department that are not on a clock yet (raised while it had
    no active chain) start climbing this one from now.
    """
    _check_levels(levels)
    if repeat_minutes < 1:
        raise ValueError("repeat_minutes: must be at least 1 minute")
    if policy is None:
        if EscalationPolicy.objects.filter(department_id=department_id).exists():
            raise ValueError("department: it already has an escalation chain; edit that one")
        policy = EscalationPolicy(department_id=department_id)
    elif (
        policy.department_id != department_id
        and EscalationPolicy.objects.filter(department_id=department_id).exclude(id=policy.id).exists()
    ):
        raise ValueError("department: it already has an escalation chain; edit that one")
    policy.department_id = department_id
    policy.repeat_minutes = repeat_minutes
    policy.is_active = is_active
    policy.save()
    policy.levels.all().delete()
    for n, spec in enumerate(levels, 1):
        level = EscalationLevel.objects.create(
            policy=policy,
            level=n,
            after_minutes=spec.after_minutes,
            roles=list(dict.fromkeys(spec.roles)),
            channels=list(dict.fromkeys(spec.channels)),
        )
        if spec.user_ids:
            level.users.set(spec.user_ids)
    if is_active:
        Alert.objects.filter(
            department_id=department_id,
            status=Alert.Status.ACTIVE,
            acknowledged=False,
            escalation_level=0,
            next_escalation_at__isnull=True,
        ).update(next_escalation_at=timezone.now() + timedelta(minutes=levels[0].after_minutes))
    return policy


def escalation_policy_delete(*, policy: EscalationPolicy) -> None:
    """Remove the chain; open alerts stop escalating at their next due time (no chain, no level)."""
    policy.delete()
