"""Who may see and change which registry entities (one rule for the API, the pages and merges).

Seeing: every signed-in user sees the registry, except device entities, which follow the devices'
own scoping (registered by the IoT's setup hook from datahub.iot.selectors: a device's key and position are visible exactly where its
`/devices/` row is). Changing (correct, merge, split): the curator roles; city-wide curators
(administrators, analysts) any entity they see; department officers only the entities their
department's subtree owns (a device entity: the devices they manage). An entity no department owns
is the city's shared registry: city-wide curators only.
"""

from django.db.models import Q, QuerySet

from cityos.roles import Role
from cityos.scoping import can_see_department
from datahub.core.models import Entity

CURATOR_ROLES = frozenset({Role.ADMINISTRATOR, Role.ANALYST, Role.DEPARTMENT_OFFICER})
ACTIONS = ("view", "change", "merge", "split")

# Entity types that follow their capability's own scoping, registered by its setup hook (the IoT's
# devices): {type: (relation, visible_condition, manage_condition)}, each condition
# `fn(user, prefix) -> Q | None` (None: no restriction).
_TYPE_SCOPES: dict[str, tuple] = {}


def entity_type_scope_register(entity_type: str, *, relation: str, visible, manage) -> None:
    _TYPE_SCOPES[entity_type] = (relation, visible, manage)


def _visible_condition(user) -> Q | None:
    if not user or not user.is_authenticated:
        return Q(pk__in=[])
    out = None
    for entity_type, (relation, visible, _manage) in _TYPE_SCOPES.items():
        cond = visible(user, f"{relation}__")
        if cond is not None:
            cond = ~Q(type=entity_type) | cond
            out = cond if out is None else out & cond
    return out


def entities_visible_to(user) -> QuerySet[Entity]:
    qs, cond = Entity.objects.all(), _visible_condition(user)
    return qs if cond is None else qs.filter(cond)


def is_curator(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in CURATOR_ROLES))


def entity_can(user, action: str, entity: Entity) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not entities_visible_to(user).filter(pk=entity.pk).exists():
        return False
    if action == "view":
        return True
    if not is_curator(user):
        return False
    if user.is_city_wide:
        return True
    if entity.type in _TYPE_SCOPES:
        relation, _visible, manage = _TYPE_SCOPES[entity.type]
        cond = manage(user, f"{relation}__")
        return cond is None or Entity.objects.filter(cond, pk=entity.pk).exists()
    return entity.department_id is not None and can_see_department(user, entity.department_id)


def entity_department_allowed(user, department_id: int | None) -> bool:
    """May `user` make `department_id` an entity's owner (None: the shared registry)?"""
    if user.is_city_wide:
        return True
    return department_id is not None and can_see_department(user, department_id)
