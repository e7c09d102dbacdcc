"""What the 12345 intake desk shows while a call is taken: the caller's earlier cases, the likely
duplicates of what they report, the suggested category and department with their confidence, and
knowledge-base answers that may close the call on the spot."""

from datetime import datetime, timedelta

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from datahub import facade
from governance.models import OPEN_STATUSES, Case, CaseTransition, Category
from governance.selectors.cases import DUPLICATE_RADIUS_M, DUPLICATE_WINDOW, case_visible_to
from governance.services.classification import case_classify_text
from governance.services.dispatch import DispatchIndex
from governance.services.knowledge import kb_search
from governance.services.location import case_locate

CALLER_HISTORY_ROWS = 10
DUPLICATE_ROWS = 5


def _phone_variants(phone: str) -> set[str]:
    raw = (phone or "").strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    return {v for v in (raw, digits) if len(v) >= 5}


def caller_history(*, user, phone: str, limit: int = CALLER_HISTORY_ROWS) -> list[Case]:
    """The caller's earlier cases (newest first), among those the user may see; [] for too short a number."""
    variants = _phone_variants(phone)
    if not variants:
        return []
    return list(
        case_visible_to(user)
        .filter(reporter_phone__in=variants)
        .select_related("category", "department")
        .order_by("-created_at", "-id")[:limit]
    )


def cases_near(
    *,
    user,
    lon: float,
    lat: float,
    category_id: int | None,
    now: datetime | None = None,
    radius_m: float = DUPLICATE_RADIUS_M,
    window: timedelta = DUPLICATE_WINDOW,
) -> QuerySet[Case]:
    """Open cases within `radius_m` of the point received in the last `window`, of the category when
    one is given: what the case being taken would likely duplicate (same rule as a case's page)."""
    now = now or timezone.now()
    near = RawSQL(
        "ST_DWithin(governance_case.location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)",
        (lon, lat, radius_m),
        output_field=BooleanField(),
    )
    qs = (
        case_visible_to(user)
        .alias(near=near)
        .filter(near=True, status__in=OPEN_STATUSES, created_at__gte=now - window)
        .select_related("category", "department")
        .order_by("-created_at", "-id")
    )
    return qs.filter(category_id=category_id) if category_id else qs


def intake_suggest(*, user, text: str, lon: float | None = None, lat: float | None = None, address: str = "") -> dict:
    """Everything the desk suggests for the call so far (plain data for the page's script)."""
    result = case_classify_text(text=text) if text.strip() else None
    category_id = None
    if result is not None:
        category_id = result.category_id or result.suggested_category_id
    category = Category.objects.filter(pk=category_id).first() if category_id else None
    located = case_locate(lon=lon, lat=lat, address=address)
    decision = DispatchIndex().decide(category_id=category_id, area_id=located.area_id or located.district_id)
    department = facade.department_get(id=decision["department_id"]) if decision["department_id"] else None
    duplicates = (
        list(cases_near(user=user, lon=lon, lat=lat, category_id=category_id)[:DUPLICATE_ROWS])
        if lon is not None and lat is not None
        else []
    )
    return {
        "category": category,
        "confidence": result.confidence if result is not None else 0.0,
        "triage": bool(result and result.triage),
        "department": department,
        "department_rule": decision["rule_id"],
        "department_fallback": decision["fallback"],
        "areas": located.names,
        "duplicates": duplicates,
        "answers": kb_search(text=text, category_id=category_id),
    }


def intake_today(*, user) -> dict:
    """Today's hotline calls at this desk's scope: received, answered on the spot, dispatched."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    calls = case_visible_to(user).filter(channel="hotline", created_at__gte=start)
    answered = CaseTransition.objects.filter(action="answer", created_at__gte=start, case__in=calls.values("pk"))
    return {
        "calls": calls.count(),
        "answered": answered.count(),
        "recent": list(calls.select_related("category").order_by("-created_at", "-id")[:10]),
    }
