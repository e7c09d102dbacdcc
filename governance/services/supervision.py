"""SLA clocks and supervision: warnings before the deadline, overdue escalation to supervisors,
supervision orders with their own deadlines.

`sla_scan` runs every few minutes from beat; it is safe to run twice (or concurrently): every step
claims its case with a conditional UPDATE (… WHERE warned_at IS NULL) and acts only when it changed
the row, and an escalation's supervision order is unique per case.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import permissions
from governance.models import OPEN_STATUSES, Case, SupervisionOrder
from governance.services.calendar import WorkCalendar
from governance.services.cases import case_record_event
from governance.services.errors import CaseError, CasePermissionDenied
from governance.services.live import push_after_commit
from governance.services.sla import sla_policy_for

# A supervision order raised by an escalation must be answered within this many working hours.
ESCALATION_ANSWER_HOURS = 8
# Warnings are looked for among cases due within this many calendar days (working-hour windows of
# a few hours never reach further, even over a long holiday).
_WARN_LOOKAHEAD = timedelta(days=10)


def _supervisor_departments() -> set[int]:
    return permissions.dispatch_centre_department_ids()


def sla_scan(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    out = {"warned": 0, "escalated": 0, "supervision_overdue": 0}
    cal = WorkCalendar.around(now, days=30)
    open_running = Case.objects.filter(status__in=OPEN_STATUSES, sla_paused_at__isnull=True, due_at__isnull=False)
    candidates = open_running.filter(warned_at__isnull=True, due_at__gt=now, due_at__lte=now + _WARN_LOOKAHEAD)
    policy_cache: dict = {}
    for case in candidates.only(
        "id", "due_at", "category_id", "priority", "department_id", "assignee_id", "tracking_number"
    ):
        key = (case.category_id, case.priority)
        if key not in policy_cache:
            policy_cache[key] = sla_policy_for(category_id=case.category_id, priority=case.priority)[1]
        if cal.working_seconds_between(now, case.due_at) > policy_cache[key] * 3600:
            continue
        with transaction.atomic():
            if Case.objects.filter(pk=case.pk, warned_at__isnull=True).update(warned_at=now) != 1:
                continue
            out["warned"] += 1
            push_after_commit(
                event="governance.sla_warning",
                data={"case_id": case.id, "tracking_number": case.tracking_number, "due_at": case.due_at.isoformat()},
                department_ids=[case.department_id],
                user_ids=[case.assignee_id],
            )
    for case in open_running.filter(escalated_at__isnull=True, due_at__lte=now).select_related("category"):
        with transaction.atomic():
            if Case.objects.filter(pk=case.pk, escalated_at__isnull=True).update(escalated_at=now) != 1:
                continue
            try:
                with transaction.atomic():
                    SupervisionOrder.objects.create(
                        case=case,
                        kind=SupervisionOrder.Kind.ESCALATION,
                        department_id=case.department_id,
                        instruction=f"{case.tracking_number} 已超期，请立即办理并说明原因",
                        due_at=cal.add_working_seconds(now, ESCALATION_ANSWER_HOURS * 3600),
                    )
            except IntegrityError:
                pass  # an earlier run already escalated it
            out["escalated"] += 1
            case.escalated_at = now
            case_record_event(case=case, action="overdue", extra={"due_at": case.due_at.isoformat()}, occurred_at=now)
            push_after_commit(
                event="governance.case_overdue",
                data={"case_id": case.id, "tracking_number": case.tracking_number},
                department_ids=[case.department_id, *_supervisor_departments()],
                user_ids=[case.assignee_id],
            )
    for order in SupervisionOrder.objects.filter(status=SupervisionOrder.Status.OPEN, due_at__lte=now):
        if SupervisionOrder.objects.filter(pk=order.pk, status=SupervisionOrder.Status.OPEN).update(
            status=SupervisionOrder.Status.OVERDUE, overdue_at=now
        ):
            out["supervision_overdue"] += 1
            push_after_commit(
                event="governance.supervision_overdue",
                data={"order_id": order.id, "case_id": order.case_id},
                department_ids=[order.department_id, *_supervisor_departments()],
            )
    return out


def supervision_issue(*, case_id: int, actor, instruction: str, hours: float = 8) -> SupervisionOrder:
    if not permissions.is_dispatcher(actor):
        raise CasePermissionDenied("supervision: only supervisors issue supervision orders")
    if not instruction.strip():
        raise CaseError("instruction: required", code="missing_instruction")
    if not 0 < hours <= 24 * 9:
        raise CaseError("hours: between 0 and 216 working hours", code="invalid_hours")
    now = timezone.now()
    case = Case.objects.get(pk=case_id)
    with transaction.atomic():
        order = SupervisionOrder.objects.create(
            case=case,
            kind=SupervisionOrder.Kind.MANUAL,
            department_id=case.department_id,
            instruction=instruction,
            due_at=WorkCalendar.around(now, days=60).add_working_seconds(now, hours * 3600),
            issued_by=actor if actor and actor.is_authenticated else None,
        )
        case_record_event(case=case, action="supervised", actor=actor, extra={"order_id": order.id}, occurred_at=now)
        push_after_commit(
            event="governance.supervision_issued",
            data={"order_id": order.id, "case_id": case.id, "tracking_number": case.tracking_number},
            department_ids=[case.department_id],
        )
    return order


def supervision_answer(*, order_id: int, actor, answer: str) -> SupervisionOrder:
    with transaction.atomic():
        order = SupervisionOrder.objects.select_for_update().select_related("case").get(pk=order_id)
        if not permissions.can_handle(actor, order.case):
            raise CasePermissionDenied("supervision: only the handling department answers")
        if order.status == SupervisionOrder.Status.ANSWERED:
            raise CaseError("supervision: already answered", code="already_answered", status=409)
        if not answer.strip():
            raise CaseError("answer: required", code="missing_answer")
        order.answer, order.answered_at, order.status = answer, timezone.now(), SupervisionOrder.Status.ANSWERED
        order.save(update_fields=["answer", "answered_at", "status"])
    return order
