"""Navigation by role. Each app appends its entries in its AppConfig.ready() via `register`.

An entry is shown when the user's role is in `roles` (None = every staff role) and its URL
name resolves (so an entry can be registered before its page exists).

Every permitted entry is in `items_for(user)`; the menu a role sees first lists only what that
role uses day to day (`MENUS`, by persona: a department officer of the 12345 centre works as a
hotline operator). The other permitted pages stay one click away under "More pages" and
reachable by URL, so nothing a role may open becomes unreachable.
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


# Personas: the staff roles, with the department officers of a dispatch centre (the 12345 hotline)
# as hotline operators. The keys below are NavItem keys, in menu order.
MENUS: dict[str, tuple[str, ...]] = {
    "city_leader": (
        "home",
        "analysis-cockpit",
        "gov-supervision",
        "gov-efficiency",
        "gov-map",
        "alerts",
        "opinion",
        "analysis-briefings",
        "analysis-situations",
        "ind-dashboard",
        "search",
    ),
    "department_officer": (
        "home",
        "gov-inbox",
        "gov-supervision",
        "gov-map",
        "alerts",
        "alert-rules",
        "iot-map",
        "datasets",
        "ind-appeals",
        "search",
    ),
    "hotline_operator": (
        "home",
        "gov-intake",
        "gov-inbox",
        "gov-supervision",
        "gov-map",
        "gov-rules",
        "liv-services",
        "search",
    ),
    "grid_worker": ("home", "gov-patrol", "gov-inbox", "gov-map", "search"),
    "analyst": (
        "home",
        "datasets",
        "opinion",
        "documents",
        "analysis-trends",
        "analysis-hotspots",
        "analysis-situations",
        "analysis-efficiency",
        "iot-datastreams",
        "datahub-entities",
        "datahub-areas",
        "search",
    ),
    "administrator": (
        "home",
        "admin",
        "iot-monitor",
        "iot-imports",
        "datasets",
        "text-sources",
        "alert-webhooks",
        "alert-rules",
        "alert-escalation",
        "gov-rules",
        "api-docs",
        "search",
    ),
    # Outsiders with pages of their own.
    "enterprise_user": ("ind-registry", "ind-policies", "ind-appeals"),
    "external_developer": ("home", "api-docs"),
}


def persona(user) -> str:
    """The user's working persona: their role, or `hotline_operator` for an officer of a dispatch
    centre. Asked of the dispatch-centre hook the governance app registers (cityos knows no app)."""
    if not user.is_authenticated:
        return ""
    if user.is_superuser:
        return Role.ADMINISTRATOR.value
    if user.role == Role.DEPARTMENT_OFFICER and _dispatcher_check is not None and _dispatcher_check(user):
        return "hotline_operator"
    return user.role


_dispatcher_check = None


def register_dispatcher_check(function) -> None:
    """The governance app tells the shell who works in a dispatch centre (`is_dispatcher`)."""
    global _dispatcher_check  # one hook, set once in AppConfig.ready()
    _dispatcher_check = function


def items_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    role = Role.ADMINISTRATOR if user.is_superuser else user.role
    menu = MENUS.get(persona(user), ())
    out = []
    for item in _ITEMS:
        allowed = item.roles if item.roles is not None else STAFF_ROLES
        if role not in allowed:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        out.append(
            {
                "key": item.key,
                "label": item.label,
                "url": url,
                "section": item.section,
                "icon": item.icon,
                "primary": item.key in menu,
                "order": menu.index(item.key) if item.key in menu else len(menu),
            }
        )
    return out


def menu_for(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the role's menu in its order, the other permitted pages in registration order)."""
    primary = sorted((i for i in items if i["primary"]), key=lambda i: i["order"])
    return primary, [i for i in items if not i["primary"]]
