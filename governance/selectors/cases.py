"""Reads of cases for pages and the API, scoped to what the user may see."""

from datetime import datetime, timedelta

from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from cityos.roles import Role, is_staff_role
from cityos.scoping import visible_department_ids
from governance import permissions
from governance.models import OPEN_STATUSES, Case, GridAssignment


def case_visible_to(user) -> QuerySet[Case]:
    """Dispatchers and city-wide roles see every case; officers their department subtree's; grid
    workers also their grids'."""
    qs = Case.objects.all()
    if permissions.is_dispatcher(user):
        return qs
    if not is_staff_role(user):
        # External developers (and later citizens) see only the cases they reported themselves,
        # whatever department their account was given.
        return qs.filter(reporter_user_id=user.id) if user and user.is_authenticated else qs.none()
    ids = visible_department_ids(user)
    if ids is None:
        return qs
    cond = Q(department_id__in=ids)
    if user.is_authenticated and user.role == Role.GRID_WORKER:
        grids = GridAssignment.objects.filter(worker=user, is_active=True).values("grid_id")
        cond |= Q(grid_id__in=grids)
    return qs.filter(cond)


def case_inbox(*, user) -> QuerySet[Case]:
    return (
        case_visible_to(user)
        .select_related("category", "department", "assignee", "district", "grid")
        .order_by("-created_at", "-id")
    )


def sla_state(case: Case, now: datetime | None = None, warn: timedelta = timedelta(hours=4)) -> str:
    """The SLA badge: done / paused / overdue / warning / ok / none."""
    if case.status not in OPEN_STATUSES:
        if case.resolved_on_time is False:
            return "late"
        return "done"
    if case.sla_paused_at:
        return "paused"
    if not case.due_at:
        return "none"
    now = now or timezone.now()
    if case.due_at <= now:
        return "overdue"
    if case.warned_at or case.due_at - now <= warn:
        return "warning"
    return "ok"


# Duplicate detection defaults: same category within 200 m and 72 h (a blocked drain reported by a
# whole street within three days is one case).
DUPLICATE_RADIUS_M = 200
DUPLICATE_WINDOW = timedelta(hours=72)


def case_duplicates(
    *, case: Case, radius_m: float = DUPLICATE_RADIUS_M, window: timedelta = DUPLICATE_WINDOW
) -> QuerySet[Case]:
    """Open cases of the same category near the case (PostGIS ST_DWithin on geography, metres) and in
    the time window around it."""
    if case.location is None or case.category_id is None:
        return Case.objects.none()
    # ST_DWithin on geography: metres on the spheroid (Django refuses metre distances on a geometry(4326)
    # column, and degrees would make the radius shrink with latitude).
    near = RawSQL(
        "ST_DWithin(governance_case.location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)",
        (case.location.x, case.location.y, radius_m),
        output_field=BooleanField(),
    )
    return (
        Case.objects.alias(near=near)
        .filter(
            near=True,
            category_id=case.category_id,
            status__in=OPEN_STATUSES,
            created_at__gte=case.created_at - window,
            created_at__lte=case.created_at + window,
        )
        .exclude(pk=case.pk)
        .select_related("category")
        .order_by("created_at", "id")
    )


# --- citizens' access to their own case ----------------------------------------------------------
# A tracking number is sequential and published (Open311), so it never opens a case alone: the
# citizen also brings the link's key (192 random bits) or the last 4 digits of the phone given at
# intake. The 4 digits are guessable in 10^4 tries, so after PHONE_TRIES wrong ones for a case the
# phone factor is closed for that case for an hour (the key still works); with the per-client
# throttle this keeps guessing hopeless.
PHONE_TRIES = 10
PHONE_LOCK_S = 3600


def _phone_tail(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def case_for_citizen(*, number: str, key: str = "", phone_last4: str = "") -> Case | None:
    """The case with this tracking number if the citizen proves they hold it, else None (the
    same answer whether the number exists or not)."""
    import secrets

    from django.core.cache import cache

    number, key, phone_last4 = (number or "").strip(), (key or "").strip(), (phone_last4 or "").strip()
    if not number or not (key or phone_last4):
        return None
    case = (
        Case.objects.select_related("category", "department")
        .prefetch_related("transitions")
        .filter(tracking_number=number)
        .first()
    )
    if case is None:
        return None
    if key:
        return case if secrets.compare_digest(key.encode(), case.citizen_key.encode()) else None
    tail = _phone_tail(case.reporter_phone)
    tries_key = f"governance:citizen-phone-tries:{case.pk}"
    if not tail or (cache.get(tries_key) or 0) >= PHONE_TRIES:
        return None
    if secrets.compare_digest(phone_last4.encode(), tail.encode()):
        return case
    if cache.add(tries_key, 1, PHONE_LOCK_S) is False:
        cache.incr(tries_key)
    return None


def case_citizen_path(case: Case) -> str:
    """The citizen's page for this case (to send by SMS or show at the counter)."""
    from urllib.parse import urlencode

    from django.urls import reverse

    return f"{reverse('governance:track')}?{urlencode({'n': case.tracking_number, 'k': case.citizen_key})}"
