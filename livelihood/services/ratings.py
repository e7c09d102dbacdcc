"""好差评: citizens rate a service handling, an appointment or a closed case; 1–2 stars open a
rectification case (governance, by `case.requested` on the rating channel) that the department answers."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cityos import bus
from datahub import facade
from livelihood.models import Appointment, AppointmentStatus, Rating, RatingTarget, Report, Service

from .errors import LivelihoodError

# Reasons are chosen from a list (the national 好差评 system's), never free text.
REASONS = {
    "fast": _("Quick"),
    "friendly": _("Friendly staff"),
    "clear_guide": _("Clear guidance"),
    "one_visit": _("Done in one visit"),
    "online": _("Convenient online"),
    "slow": _("Too slow"),
    "unfriendly": _("Unfriendly staff"),
    "unclear": _("Unclear requirements"),
    "many_visits": _("Had to come back several times"),
    "not_solved": _("Problem not solved"),
    "other": _("Other"),
}
CLOSED_STATUSES = {"closed", "verified", "resolved", "rejected"}


@transaction.atomic
def rating_submit(
    *,
    target: str,
    score: int,
    reasons: list[str] | None = None,
    comment: str = "",
    service_id: int | None = None,
    appointment_id: int | None = None,
    report_id: int | None = None,
    citizen=None,
) -> Rating:
    if target not in RatingTarget.values:
        raise LivelihoodError(f"target: one of {', '.join(RatingTarget.values)}", field="target")
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise LivelihoodError("score: 1 to 5", field="score")
    reasons = list(reasons or [])
    bad = [r for r in reasons if r not in REASONS]
    if bad:
        raise LivelihoodError(f"reasons: unknown reason {bad[0]!r}", field="reasons")
    if len(comment) > 2000:
        raise LivelihoodError("comment: at most 2000 characters", field="comment")
    citizen = citizen if getattr(citizen, "pk", None) else None
    rating = Rating(target=target, score=score, reasons=sorted(set(reasons)), comment=comment.strip(), citizen=citizen)
    if target == RatingTarget.SERVICE:
        svc = Service.objects.filter(pk=service_id).first()
        if svc is None:
            raise LivelihoodError("service: no such service", field="service")
        rating.service, rating.department_id = svc, svc.department_id
    elif target == RatingTarget.APPOINTMENT:
        appt = Appointment.objects.select_related("service", "office").filter(pk=appointment_id).first()
        if appt is None:
            raise LivelihoodError("appointment: no such appointment", field="appointment")
        if citizen is not None and appt.citizen_id not in (None, citizen.pk):
            raise LivelihoodError("appointment: not yours", field="appointment", status=403)
        if appt.status != AppointmentStatus.SERVED:
            raise LivelihoodError(
                "appointment: only a served appointment can be rated", field="appointment", status=409
            )
        rating.appointment, rating.service = appt, appt.service
        rating.department_id, rating.area_id = appt.office.department_id, appt.office.area_id
    else:
        report = Report.objects.filter(pk=report_id).first()
        if report is None:
            raise LivelihoodError("report: no such report", field="report")
        if report.closed_at is None and report.status not in CLOSED_STATUSES:
            raise LivelihoodError("report: the case is not closed yet", field="report", status=409)
        if report.department_id is None:
            raise LivelihoodError("report: no department handled this case", field="report", status=409)
        rating.report, rating.department_id, rating.area_id = report, report.department_id, report.area_id
    try:
        with transaction.atomic():
            rating.save()
    except IntegrityError:
        raise LivelihoodError("already rated", field=target, status=409, code="already_rated") from None
    if score <= 2:
        title = f"差评整改 / rectification: {score}★ {rating.get_target_display()}"
        bus.publish(
            "case.requested",
            {
                "origin": {"kind": "rating", "id": rating.id},
                "channel": "rating",
                "title": title[:60],
                "description": "; ".join(filter(None, [comment, ", ".join(rating.reasons)])) or title,
                "category": None,
                "department_id": rating.department_id,
                "priority": "high" if score == 1 else "normal",
                "area_id": rating.area_id,
                "attributes": {
                    "rating_score": score,
                    "rated": target,
                    "case_id": rating.report.case_id if rating.report else None,
                },
            },
        )
        rating.rectification_status = "requested"
        rating.save(update_fields=["rectification_status"])
    facade.event_record(
        type="livelihood.rating_given",
        area_id=rating.area_id,
        actor_id=getattr(citizen, "pk", None),
        object_ref=f"livelihood:rating:{rating.id}",
        payload={
            "score": score,
            "target": target,
            "department_id": rating.department_id,
            "service": rating.service.code if rating.service else None,
            "reasons": rating.reasons,
        },
    )
    return rating


@transaction.atomic
def rating_reply(*, rating_id: int, reply: str, actor) -> Rating:
    """The department's answer to a rating (required for 1–2 stars)."""
    reply = (reply or "").strip()
    if not reply:
        raise LivelihoodError("reply is required", field="reply")
    rating = Rating.objects.select_for_update().get(pk=rating_id)
    rating.reply, rating.replied_at, rating.replied_by = reply[:4000], timezone.now(), actor
    rating.save(update_fields=["reply", "replied_at", "replied_by"])
    facade.event_record(
        type="livelihood.rating_replied",
        area_id=rating.area_id,
        actor_id=getattr(actor, "pk", None),
        object_ref=f"livelihood:rating:{rating.id}",
        payload={"score": rating.score, "department_id": rating.department_id},
    )
    return rating


@transaction.atomic
def rating_apply_case_event(*, rating_id: int, payload: dict) -> bool:
    rating = Rating.objects.select_for_update().filter(pk=rating_id).first()
    if rating is None:
        return False
    rating.rectification_case_id = payload.get("case_id") or rating.rectification_case_id
    rating.rectification_number = payload.get("tracking_number") or rating.rectification_number
    rating.rectification_status = payload.get("status") or rating.rectification_status
    rating.save(update_fields=["rectification_case_id", "rectification_number", "rectification_status"])
    return True
