"""Every write on a case: intake, the workflow state machine, merge, rating.

Each state change goes through `case_transition`, which checks the actor's permission, applies the
step, records a CaseTransition, writes a `case.<action>` event to the datahub (the feedback loop) and,
when the case ends, publishes `governance.case_closed` after commit.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from cityos import bus
from cityos.roles import staff_users
from datahub import facade
from governance import permissions
from governance.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseAttachment,
    CaseTransition,
    Category,
    Channel,
    DispatchCentre,
    Priority,
    Status,
)
from governance.services.calendar import calendar_for
from governance.services.classification import case_classify_text
from governance.services.dispatch import DispatchIndex, dispatch_decide
from governance.services.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from governance.services.live import push_after_commit
from governance.services.location import case_locate
from governance.services.numbers import tracking_number_next
from governance.services.refcache import RefCache
from governance.services.sla import sla_deadline

S = Status


@dataclass(frozen=True)
class Step:
    sources: tuple[str, ...]
    target: str | None  # None: computed (resume, reopen)
    who: str  # "dispatcher" or "handler"


TRANSITIONS: dict[str, Step] = {
    "dispatch": Step((S.RECEIVED, S.RETURNED), S.DISPATCHED, "dispatcher"),
    "reassign": Step((S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.RETURNED), S.DISPATCHED, "dispatcher"),
    "accept": Step((S.DISPATCHED,), S.ACCEPTED, "handler"),
    "start": Step((S.ACCEPTED,), S.IN_PROGRESS, "handler"),
    "suspend": Step((S.ACCEPTED, S.IN_PROGRESS), S.SUSPENDED, "handler"),
    "resume": Step((S.SUSPENDED,), None, "handler"),
    "resolve": Step((S.ACCEPTED, S.IN_PROGRESS), S.RESOLVED, "handler"),
    "return": Step((S.DISPATCHED, S.ACCEPTED), S.RETURNED, "handler"),
    "reject": Step((S.RECEIVED, S.RETURNED), S.REJECTED, "dispatcher"),
    "verify": Step((S.RESOLVED,), S.VERIFIED, "dispatcher"),
    "close": Step((S.RESOLVED, S.VERIFIED), S.CLOSED, "dispatcher"),
    "reopen": Step((S.RESOLVED, S.VERIFIED, S.CLOSED), None, "dispatcher"),
    "merge": Step(OPEN_STATUSES, S.MERGED, "dispatcher"),
    # 直接答复: the hotline answers the caller on the spot (from the knowledge base) and closes the case.
    "answer": Step((S.RECEIVED,), S.CLOSED, "dispatcher"),
}
# Transitions that end a case for good: other apps are told (monitoring clears its alert).
ENDING = {"close", "reject", "merge", "answer"}
# Steps taken only through their own service (merge: case_merge; answer: case_answer_directly).
SERVICE_ONLY_ACTIONS = {"merge", "answer"}
# A rating at or below this reopens the case (the citizen is not satisfied).
REOPEN_RATING = 2


def allowed_actions(*, case: Case, user) -> list[str]:
    out = []
    for name, step in TRANSITIONS.items():
        if case.status not in step.sources or name in SERVICE_ONLY_ACTIONS:
            continue
        if step.who == "dispatcher" and permissions.is_dispatcher(user):
            out.append(name)
        elif step.who == "handler" and permissions.can_handle(user, case):
            out.append(name)
    return out


def _actor(user):
    return user if user is not None and user.is_authenticated else None


# The department an undispatched case's events belong to in the datahub's log (its event rows are
# scoped by department): the first dispatch centre, which holds the case until it is dispatched.
_intake_department = RefCache(
    lambda: DispatchCentre.objects.order_by("id").values_list("department_id", flat=True).first()
)
_category_codes = RefCache(lambda: {c["id"]: c for c in Category.objects.values("id", "code", "service_code")})


def case_origin(case: Case) -> dict | None:
    """The structured origin other apps match on: `{"kind": "appeal", "id": 7}` for a case opened
    from another app's object (origin_ref "appeal:7"), None for a case with no upstream object."""
    kind, sep, ident = (case.origin_ref or "").partition(":")
    if not sep or not kind or not ident:
        return None
    return {"kind": kind, "id": int(ident) if ident.isdigit() else ident}


def case_progress_payload(*, case: Case, action: str, from_status: str, note: str, at: datetime) -> dict:
    """The payload of governance.case_created / case_updated / case_closed: what a subscribing app
    needs to follow a case it asked for (matched by `origin`), without knowing governance's models.
    `note` is the public status note of ending actions only (internal notes stay internal)."""
    return {
        "case_id": case.id,
        "tracking_number": case.tracking_number,
        "origin": case_origin(case),
        "origin_ref": case.origin_ref,
        "action": action,
        "from_status": from_status,
        "status": case.status,
        "department_id": case.department_id,
        "note": note if action in ENDING else "",
        "at": at.isoformat(),
    }


def case_search_index(*, case: Case, category_code: str | None = None) -> None:
    from governance.search import case_index

    case_index(case, category_code)


def case_record_event(
    *, case: Case, action: str, actor=None, extra: dict | None = None, occurred_at: datetime | None = None
) -> int:
    """Record one step of the case in the datahub's event log, at `occurred_at`: the step's own
    time (the transition's `now`), so a backdated case (the demo's month of history, an imported
    backlog) lands on the day it happened, not on the day it was written. None is "now"."""
    codes = {"code": None, "service_code": None}
    if case.category_id:
        codes = _category_codes.get().get(case.category_id)
        if codes is None:  # created since the cache was read
            _category_codes.reset()
            codes = _category_codes.get().get(case.category_id, {"code": None, "service_code": None})
    payload = {
        "case_id": case.id,
        "tracking_number": case.tracking_number,
        "status": case.status,
        "channel": case.channel,
        "priority": case.priority,
        "category": codes["code"],
        "service_code": codes["service_code"],
        "department": case.department_id,
        "district": case.district_id,
        "grid": case.grid_id,
        **(extra or {}),
    }
    # Every recorded step also refreshes the case in the search index (written after commit).
    case_search_index(case=case, category_code=codes["code"] or "")
    return facade.event_record(
        type=f"case.{action}",
        area_id=case.area_id,
        lon=case.location.x if case.location else None,
        lat=case.location.y if case.location else None,
        actor_id=_actor(actor).id if _actor(actor) else None,
        object_ref=f"governance:case:{case.id}",
        department_id=case.department_id or _intake_department.get(),
        payload=payload,
        occurred_at=occurred_at,
    )


def case_create(
    *,
    channel: str,
    title: str,
    description: str = "",
    category_id: int | None = None,
    service_code: str | None = None,
    priority: str = Priority.NORMAL,
    lon: float | None = None,
    lat: float | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    reporter_user=None,
    attributes: dict | None = None,
    media_url: str = "",
    origin: str = "",
    origin_ref: str = "",
    actor=None,
    auto_dispatch: bool = True,
    dispatch_index: DispatchIndex | None = None,
    now: datetime | None = None,
    classify: bool = True,
) -> Case:
    """Receive a case: classify (unless a category is given), locate, set its deadline, give it a
    tracking number and, when a rule or default names a department, dispatch it.

    Idempotent on `origin_ref` (alert:17, document:5…): the same upstream object returns the same case.
    """
    if channel not in Channel.values:
        raise CaseError(f"channel: unknown channel {channel!r}", code="invalid_channel")
    if priority not in Priority.values:
        raise CaseError(f"priority: unknown priority {priority!r}", code="invalid_priority")
    title = (title or "").strip()
    if not title:
        raise CaseError("title: a case needs a title or description", code="missing_title")
    if origin_ref:
        existing = Case.objects.filter(origin_ref=origin_ref).first()
        if existing:
            return existing
    if lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise CaseError(f"location: longitude {lon} / latitude {lat} out of range", code="invalid_location")
    now = now or timezone.now()
    classification: dict = {"source": "given"}
    if service_code and category_id is None:
        cat = Category.objects.filter(service_code=service_code, is_active=True).first()
        if cat is None:
            raise CaseError(f"service_code: unknown service code {service_code!r}", code="unknown_service_code")
        category_id = cat.id
    if category_id is None and classify:
        result = case_classify_text(text=f"{title} {description}")
        category_id, classification = result.category_id, result.as_dict()
        if result.triage:
            # Too unsure to route: the hotline's triage queue (received, no department) decides,
            # with the guess shown as a suggestion; no department works on a wrong guess meanwhile.
            auto_dispatch = False
    elif not classify:
        classification = {"source": "origin"}  # the upstream object named it (an alert's rule)
    located = case_locate(lon=lon, lat=lat, address=address)
    due_at, sla_hours = sla_deadline(start=now, category_id=category_id, priority=priority)
    try:
        with transaction.atomic():
            case = Case.objects.create(
                tracking_number=tracking_number_next(at=now),
                channel=channel,
                title=title[:300],
                description=description,
                category_id=category_id,
                classification=classification,
                priority=priority,
                location=Point(lon, lat, srid=4326) if lon is not None and lat is not None else None,
                address=address[:300],
                district_id=located.district_id,
                street_id=located.street_id,
                grid_id=located.grid_id,
                area_id=located.area_id,
                reporter_name=reporter_name,
                reporter_phone=reporter_phone,
                reporter_email=reporter_email,
                reporter_user=_actor(reporter_user),
                attributes=attributes or {},
                media_url=media_url,
                origin=origin or channel,
                origin_ref=origin_ref,
                created_at=now,
                due_at=due_at,
                sla_hours=sla_hours,
            )
            CaseTransition.objects.create(
                case=case,
                action="receive",
                to_status=S.RECEIVED,
                actor=_actor(actor),
                created_at=now,
                data={"channel": channel, "location": located.method, "areas": located.names},
            )
            case_record_event(case=case, action="received", actor=actor, occurred_at=now)
            bus.publish(
                "governance.case_created",
                case_progress_payload(case=case, action="receive", from_status="", note="", at=now),
            )
            if auto_dispatch:
                decision = dispatch_decide(case=case, index=dispatch_index)
                case.dispatch_explanation = decision
                case.save(update_fields=["dispatch_explanation"])
                if decision["department_id"]:
                    case = case_transition(
                        case_id=case.id,
                        action="dispatch",
                        actor=None,
                        department_id=decision["department_id"],
                        assignee_id=decision["assignee_id"],
                        note=decision["reason"],
                        explanation=decision,
                        now=now,
                    )
    except IntegrityError:
        if origin_ref:  # a concurrent delivery of the same upstream object won the race
            existing = Case.objects.filter(origin_ref=origin_ref).first()
            if existing:
                return existing
        raise
    return case


def _check_permission(step: Step, action: str, case: Case, actor) -> None:
    ok = permissions.is_dispatcher(actor) if step.who == "dispatcher" else permissions.can_handle(actor, case)
    if not ok:
        raise CasePermissionDenied(f"{action}: you may not {action} case {case.tracking_number}")


def case_transition(
    *,
    case_id: int,
    action: str,
    actor=None,
    note: str = "",
    department_id: int | None = None,
    assignee_id: int | None = None,
    explanation: dict | None = None,
    merged_into_id: int | None = None,
    details: dict | None = None,
    now: datetime | None = None,
) -> Case:
    """Apply one workflow step. `actor=None` is the system (subscribers, beat tasks, ratings).
    `details` are kept on the step's history row (the knowledge-base article of a direct answer)."""
    step = TRANSITIONS.get(action)
    if step is None:
        raise CaseError(f"action: unknown action {action!r}", code="unknown_action")
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.status not in step.sources:
            raise TransitionNotAllowed(
                f"status: cannot {action} a case that is {case.status} ({case.tracking_number})",
                extra={"status": case.status},
            )
        _check_permission(step, action, case, actor)
        before = case.status
        fields = {"status", "updated_at"}
        data: dict = {}
        if action in ("dispatch", "reassign"):
            if department_id is None and action == "dispatch":
                decision = explanation or dispatch_decide(case=case)
                department_id, assignee_id = decision["department_id"], decision.get("assignee_id")
                explanation = decision
            if department_id is None:
                raise CaseError(f"department: {action} needs a department", code="missing_department")
            if facade.department_get(id=department_id) is None:
                raise CaseError(f"department: no department #{department_id}", code="unknown_department")
            if assignee_id is not None and not staff_users().filter(id=assignee_id).exists():
                # Cases go to the city's staff only: never an external developer (or a citizen).
                raise CaseError(f"assignee: no active staff user #{assignee_id}", code="invalid_assignee")
            if action == "reassign" and department_id == case.department_id and assignee_id == case.assignee_id:
                raise CaseError("department: the case is already with this department", code="same_department")
            data = {"from_department": case.department_id, "to_department": department_id}
            case.department_id, case.assignee_id = department_id, assignee_id
            case.dispatched_at = now
            case.accepted_at = None if action == "reassign" else case.accepted_at
            case.dispatch_explanation = explanation or {
                "department_id": department_id,
                "assignee_id": assignee_id,
                "reason": f"manual {action} by {actor}: {note}".strip(": "),
                "manual": True,
            }
            fields |= {"department", "assignee", "dispatched_at", "accepted_at", "dispatch_explanation"}
        elif action == "accept":
            case.accepted_at = now
            if case.assignee_id is None and actor is not None:
                case.assignee = actor
            fields |= {"accepted_at", "assignee"}
        elif action == "suspend":
            if not note:
                raise CaseError("note: give the reason for suspending", code="missing_note")
            case.status_before_suspend, case.sla_paused_at = case.status, now
            fields |= {"status_before_suspend", "sla_paused_at"}
        elif action == "resume":
            paused_from = case.sla_paused_at or now
            cal = calendar_for(now)
            paused = cal.working_seconds_between(paused_from, now)
            if case.due_at:
                case.due_at = cal.add_working_seconds(case.due_at, paused)
            case.suspended_seconds += int((now - paused_from).total_seconds())
            case.sla_paused_at = None
            data = {"paused_working_seconds": paused}
            fields |= {"due_at", "suspended_seconds", "sla_paused_at"}
        elif action == "resolve":
            case.resolved_at = now
            case.resolved_on_time = case.due_at is None or now <= case.due_at
            fields |= {"resolved_at", "resolved_on_time"}
        elif action == "return":
            if not note:
                raise CaseError("note: give the reason for returning the case", code="missing_note")
            case.assignee_id = None
            fields |= {"assignee"}
        elif action == "answer":
            if not note:
                raise CaseError("note: give the answer told to the caller", code="missing_note")
            case.resolved_at = case.closed_at = now
            case.resolved_on_time = True
            fields |= {"resolved_at", "closed_at", "resolved_on_time"}
        elif action in ("close", "reject", "merge"):
            case.closed_at = now
            fields |= {"closed_at"}
            if action == "merge":
                case.merged_into_id = merged_into_id
                fields |= {"merged_into"}
        elif action == "reopen":
            case.reopen_count += 1
            case.resolved_at = case.closed_at = case.resolved_on_time = None
            case.warned_at = case.escalated_at = None
            case.due_at, case.sla_hours = sla_deadline(start=now, category_id=case.category_id, priority=case.priority)
            fields |= {"reopen_count", "resolved_at", "closed_at", "resolved_on_time", "warned_at", "escalated_at"}
            fields |= {"due_at", "sla_hours"}
        if step.target is not None:
            case.status = step.target
        elif action == "resume":
            case.status = case.status_before_suspend or S.IN_PROGRESS
        elif action == "reopen":
            case.status = S.DISPATCHED if case.department_id else S.RECEIVED
        if note and action in ("resolve", "reject", "return", "close", "suspend", "answer"):
            case.status_notes = note[:500]
            fields.add("status_notes")
        case.save(update_fields=sorted(fields))
        CaseTransition.objects.create(
            case=case,
            action=action,
            from_status=before,
            to_status=case.status,
            actor=_actor(actor),
            department_id=case.department_id,
            note=note,
            data={**data, **(details or {})},
            created_at=now,
        )
        case_record_event(case=case, action=action, actor=actor, extra={"from_status": before}, occurred_at=now)
        progress = case_progress_payload(case=case, action=action, from_status=before, note=note, at=now)
        bus.publish("governance.case_updated", progress)
        if action in ENDING:
            bus.publish("governance.case_closed", progress)
        push_after_commit(
            event="governance.case_updated",
            data={"case_id": case.id, "tracking_number": case.tracking_number, "action": action, "status": case.status},
            department_ids=[case.department_id],
            user_ids=[case.assignee_id],
        )
    return case


def case_merge(*, primary_id: int, duplicate_id: int, actor=None, note: str = "") -> Case:
    if primary_id == duplicate_id:
        raise CaseError("duplicate_id: a case cannot be merged into itself", code="merge_self")
    primary = Case.objects.filter(pk=primary_id).first()
    if primary is None or primary.status == S.MERGED:
        raise CaseError(f"primary_id: case #{primary_id} cannot receive merges", code="merge_target")
    return case_transition(
        case_id=duplicate_id,
        action="merge",
        actor=actor,
        note=note or f"merged into {primary.tracking_number}",
        merged_into_id=primary.id,
    )


def case_rate(*, tracking_number: str, rating: int, comment: str = "", now: datetime | None = None) -> Case:
    """A citizen rates the resolution (1–5). A rating <= 2 reopens the case."""
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise CaseError("rating: must be an integer from 1 to 5", code="invalid_rating")
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(tracking_number=tracking_number).first()
        if case is None:
            raise CaseError(f"tracking_number: no case {tracking_number}", code="not_found", status=404)
        if case.status not in DONE_STATUSES:
            raise TransitionNotAllowed("status: only a resolved case can be rated", extra={"status": case.status})
        if case.rated_at and case.resolved_at and case.rated_at >= case.resolved_at:
            raise TransitionNotAllowed("rating: this resolution has already been rated")
        case.rating, case.rating_comment, case.rated_at = rating, comment[:2000], now
        case.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
        case_record_event(case=case, action="rated", extra={"rating": rating}, occurred_at=now)
        if rating <= REOPEN_RATING:
            case = case_transition(
                case_id=case.id, action="reopen", actor=None, note=f"citizen rated {rating}/5: {comment}"[:500], now=now
            )
    return case


MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def case_attach(*, case_id: int, uploaded_file, actor=None) -> CaseAttachment:
    if uploaded_file.size > MAX_ATTACHMENT_BYTES:
        raise CaseError(f"file: {uploaded_file.name} is larger than 20 MB", code="file_too_large")
    case = Case.objects.get(pk=case_id)
    att = CaseAttachment.objects.create(
        case=case,
        file=uploaded_file,
        name=uploaded_file.name[:200],
        content_type=getattr(uploaded_file, "content_type", "") or "",
        size=uploaded_file.size,
        uploaded_by=_actor(actor),
    )
    case_record_event(case=case, action="attachment_added", actor=actor, extra={"attachment_id": att.id})
    return att
