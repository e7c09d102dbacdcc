"""Navigation by role. Each app appends its entries in its AppConfig.ready() via `register`.

An entry is shown when the user's role is in `roles` (None = every staff role) and its URL
name resolves (so an entry can be registered before its page exists).
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

from .roles import STAFF_ROLES, Role


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str | Promise
    url_name: str
    section: str | Promise
    roles: frozenset | None = None
    icon: str = ""


_ITEMS: list[NavItem] = []


def register(item: NavItem) -> None:
    if all(i.key != item.key for i in _ITEMS):
        _ITEMS.append(item)


def items_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    role = Role.ADMINISTRATOR if user.is_superuser else user.role
    out = []
    for item in _ITEMS:
        allowed = item.roles if item.roles is not None else STAFF_ROLES
        if role not in allowed:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        out.append({"key": item.key, "label": item.label, "url": url, "section": item.section, "icon": item.icon})
    return out
