"""Reactions to other apps' domain events. Idempotent: the origin_ref unique constraint makes a
redelivered event return the case it already created."""

from governance.models import Category, Channel, Priority
from governance.services.cases import case_create

_SEVERITY_PRIORITY = {
    "critical": Priority.URGENT,
    "major": Priority.HIGH,
    "minor": Priority.NORMAL,
    "warning": Priority.NORMAL,
    "info": Priority.LOW,
}


def alert_case_categories() -> list[tuple[str, str]]:
    """The categories an alert rule may name for its cases: [(code, "Group › Name")], active leaves
    and groups, labelled in the current language."""
    from django.utils.translation import get_language

    from governance.models import Category

    english = (get_language() or "").startswith("en")
    out = []
    for cat in Category.objects.filter(is_active=True).select_related("parent").order_by("parent_id", "id"):
        name = (cat.name_en or cat.name) if english else cat.name
        if cat.parent_id:
            parent = (cat.parent.name_en or cat.parent.name) if english else cat.parent.name
            name = f"{parent} › {name}"
        out.append((cat.code, name))
    return sorted(out, key=lambda c: c[1])


def on_alert_raised(payload: dict) -> int | None:
    """An alert whose rule opens cases becomes a case. Its category is the one the rule names
    (`category_code`) and its department the rule's (`department_id`): an alert's title ("PM2.5
    high at station 3") says nothing a text classifier could route, so none is consulted. A rule
    without a category gives an uncategorised case in its department (or, with no department,
    the dispatch centre's queue)."""
    from governance.models import Category

    if not payload.get("open_case"):
        return None
    code = payload.get("category_code") or ""
    category = Category.objects.filter(code=code, is_active=True).first() if code else None
    department_id = payload.get("department_id")
    case = case_create(
        channel=Channel.ALERT,
        category_id=category.id if category else None,
        classify=False,
        # The rule names the department: the category's dispatch rules apply only without one.
        auto_dispatch=not department_id,
        title=payload.get("title") or payload.get("rule_name") or f"alert {payload['alert_id']}",
        description=payload.get("description") or "",
        priority=_SEVERITY_PRIORITY.get(payload.get("severity", ""), Priority.NORMAL),
        lon=payload.get("lon"),
        lat=payload.get("lat"),
        origin="alert",
        origin_ref=f"alert:{payload['alert_id']}",
        attributes={
            "rule_name": payload.get("rule_name"),
            "rule_id": payload.get("rule_id"),
            "raised_at": payload.get("raised_at"),
            **({"unknown_category_code": code} if code and category is None else {}),
        },
    )
    if department_id and case.department_id is None and case.status == "received":
        from governance.services.cases import case_transition

        case_transition(
            case_id=case.id,
            action="dispatch",
            actor=None,
            department_id=payload["department_id"],
            note="department named by the alert rule",
        )
    if payload.get("area_id") and case.area_id is None:
        type(case).objects.filter(pk=case.pk, area__isnull=True).update(area_id=payload["area_id"])
    return case.id


def on_document_flagged(payload: dict) -> int:
    body = payload.get("body") or ""
    url = payload.get("url") or ""
    case = case_create(
        channel=Channel.DOCUMENT,
        title=payload.get("title") or body[:60] or f"document {payload['document_id']}",
        description=(body + (f"\n\n{url}" if url else ""))[:20000],
        lon=payload.get("lon"),
        lat=payload.get("lat"),
        origin="document",
        origin_ref=f"document:{payload['document_id']}",
        attributes={"topic": payload.get("topic"), "url": url, "flagged_by_user_id": payload.get("flagged_by_user_id")},
    )
    if payload.get("area_id") and case.area_id is None:
        type(case).objects.filter(pk=case.pk, area__isnull=True).update(area_id=payload["area_id"])
    return case.id


# Channels another app may open a case through (case.requested); anything else is refused.
_REQUEST_CHANNELS = {Channel.PORTAL, Channel.ENTERPRISE, Channel.RATING, Channel.API}


def on_case_requested(payload: dict) -> int | None:
    """Bus handler for "case.requested": another app (an enterprise appeal, a citizen's portal
    report, a bad rating's rectification) asks for a case. The contract of the publisher:

        {"origin": {"kind": "appeal", "id": 7},   # required: the requesting app's object
         "channel": "enterprise",                 # portal | enterprise | rating | api
         "title": "...", "description": "...",
         "category": "noise" | None,              # a category code; classified from the text when absent
         "department_id": 12 | None,              # dispatch straight to this department
         "priority": "normal", "lon": .., "lat": .., "address": "", "area_id": None,
         "reporter_name": "", "reporter_phone": "", "reporter_email": "", "attributes": {}}

    Idempotent on the origin (a redelivered event returns the case it created). Progress goes back
    as governance.case_created / case_updated / case_closed, each carrying the same `origin`.
    """
    origin = payload.get("origin") or {}
    kind, ident = str(origin.get("kind") or ""), str(origin.get("id") or "")
    if not kind or not ident or ":" in kind:
        return None
    channel = payload.get("channel") or Channel.API
    if channel not in _REQUEST_CHANNELS:
        channel = Channel.API
    category_id = None
    if payload.get("category"):
        category_id = (
            Category.objects.filter(code=payload["category"], is_active=True).values_list("id", flat=True).first()
        )
    case = case_create(
        channel=channel,
        title=payload.get("title") or payload.get("description", "")[:60] or f"{kind} {ident}",
        description=payload.get("description") or "",
        category_id=category_id,
        priority=payload.get("priority") if payload.get("priority") in Priority.values else Priority.NORMAL,
        lon=payload.get("lon"),
        lat=payload.get("lat"),
        address=payload.get("address") or "",
        reporter_name=payload.get("reporter_name") or "",
        reporter_phone=payload.get("reporter_phone") or "",
        reporter_email=payload.get("reporter_email") or "",
        attributes=payload.get("attributes") or {},
        origin=kind[:16],
        origin_ref=f"{kind}:{ident}"[:100],
        auto_dispatch=not payload.get("department_id"),
    )
    if payload.get("department_id") and case.department_id is None and case.status == "received":
        from governance.services.cases import case_transition

        case_transition(
            case_id=case.id,
            action="dispatch",
            actor=None,
            department_id=payload["department_id"],
            note="department named by the requesting app",
        )
    if payload.get("area_id") and case.area_id is None:
        type(case).objects.filter(pk=case.pk, area__isnull=True).update(area_id=payload["area_id"])
    return case.id
