"""Enterprise appeals (企业诉求). Submitting publishes `case.requested` (governance opens a case);
governance's case events move the appeal along (industry.subscribers); the enterprise rates it."""

from django.db import transaction
from django.utils import timezone

from cityos import bus
from industry.models import Appeal, AppealHistory, Enterprise, Notice

from .common import record_event
from .errors import IndustryError

# Governance case status → appeal status.
CASE_TO_APPEAL = {
    "received": Appeal.Status.SUBMITTED,
    "dispatched": Appeal.Status.ACCEPTED,
    "accepted": Appeal.Status.ACCEPTED,
    "in_progress": Appeal.Status.IN_PROGRESS,
    "suspended": Appeal.Status.IN_PROGRESS,
    "returned": Appeal.Status.IN_PROGRESS,
    "resolved": Appeal.Status.RESOLVED,
    "verified": Appeal.Status.RESOLVED,
    "closed": Appeal.Status.CLOSED,
    "merged": Appeal.Status.CLOSED,
    "rejected": Appeal.Status.REJECTED,
}


def _move(appeal: Appeal, to: str, *, actor=None, note: str = "") -> None:
    if appeal.status == to:
        return
    AppealHistory.objects.create(appeal=appeal, from_status=appeal.status, to_status=to, note=note[:2000], actor=actor)
    appeal.status = to
    if to in (Appeal.Status.CLOSED, Appeal.Status.REJECTED):
        appeal.closed_at = timezone.now()


def appeal_submit(
    *,
    enterprise_id: int,
    title: str,
    description: str,
    actor=None,
    category: str = "",
    department_id: int | None = None,
) -> Appeal:
    title, description = (title or "").strip(), (description or "").strip()
    if not title:
        raise IndustryError("title: required", extra={"field": "title"})
    if not description:
        raise IndustryError("description: required", extra={"field": "description"})
    with transaction.atomic():
        ent = Enterprise.objects.get(id=enterprise_id)
        user = actor if actor is not None and actor.is_authenticated else None
        appeal = Appeal.objects.create(
            enterprise=ent,
            submitted_by=user,
            title=title[:200],
            description=description[:20000],
            category=category[:64],
            department_id=department_id,
        )
        AppealHistory.objects.create(appeal=appeal, to_status=appeal.status, actor=user, note="submitted")
        record_event(
            type="industry.appeal_submitted",
            enterprise=ent,
            actor=user,
            payload={"appeal_id": appeal.id},
            object_ref=f"industry:appeal:{appeal.id}",
        )
        loc = ent.location
        bus.publish(
            "case.requested",
            {
                "origin": {"kind": "appeal", "id": appeal.id},
                "channel": "enterprise",
                "title": f"【企业诉求】{appeal.title}"[:200],
                "description": f"{appeal.description}\n\n{ent.name}（{ent.uscc or '-'}）",
                "category": category or None,
                "department_id": department_id,
                "priority": "normal",
                "lon": loc.x if loc else None,
                "lat": loc.y if loc else None,
                "address": ent.address,
                "area_id": ent.area_id,
                "reporter_name": ent.name,
                "reporter_phone": "",
                "reporter_email": "",
                "attributes": {"enterprise_id": ent.id, "uscc": ent.uscc or ""},
            },
        )
    return appeal


def appeal_case_event(payload: dict, *, event: str) -> int | None:
    """Apply a governance.case_created/updated/closed payload to the appeal it names. Idempotent
    (the status only moves when it changes; a replayed event changes nothing)."""
    origin = payload.get("origin") or {}
    if origin.get("kind") != "appeal":
        return None
    try:
        appeal_id = int(origin.get("id"))
    except (TypeError, ValueError):
        return None
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().filter(id=appeal_id).select_related("enterprise").first()
        if appeal is None:
            return None
        old = appeal.status
        appeal.case_id = payload.get("case_id") or appeal.case_id
        appeal.tracking_number = payload.get("tracking_number") or appeal.tracking_number
        status = payload.get("status") or ""
        appeal.case_status = status[:16]
        if payload.get("department_id"):
            appeal.department_id = payload["department_id"]
        target = CASE_TO_APPEAL.get(status)
        if event == "closed" and target not in (Appeal.Status.CLOSED, Appeal.Status.REJECTED):
            target = Appeal.Status.CLOSED
        if payload.get("note") and target in (Appeal.Status.RESOLVED, Appeal.Status.CLOSED, Appeal.Status.REJECTED):
            appeal.reply = str(payload["note"])[:5000]
        if target and appeal.is_open:
            _move(appeal, target, note=f"case {payload.get('action') or event}: {status}")
        appeal.save()
        if appeal.status != old:
            record_event(
                type="industry.appeal_status",
                enterprise=appeal.enterprise,
                payload={"appeal_id": appeal.id, "from": old, "to": appeal.status},
                object_ref=f"industry:appeal:{appeal.id}",
            )
            bus.publish("industry.appeal_changed", {"appeal_id": appeal.id, "status": appeal.status})
            if appeal.status in (Appeal.Status.RESOLVED, Appeal.Status.CLOSED, Appeal.Status.REJECTED):
                Notice.objects.create(
                    enterprise=appeal.enterprise,
                    title=f"您的诉求“{appeal.title}”已{appeal.get_status_display()}"[:200],
                    title_en=f"Your appeal “{appeal.title}”: {appeal.status}"[:200],
                    body=appeal.reply,
                )
    return appeal.id


def appeal_rate(*, appeal_id: int, rating: int, comment: str = "", actor=None) -> Appeal:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise IndustryError("rating: an integer from 1 to 5", extra={"field": "rating"})
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().select_related("enterprise").get(id=appeal_id)
        if appeal.status not in (Appeal.Status.RESOLVED, Appeal.Status.CLOSED, Appeal.Status.REJECTED):
            raise IndustryError("rating: the appeal is not answered yet", status=409, extra={"field": "rating"})
        if appeal.rating is not None:
            raise IndustryError("rating: already rated", status=409, extra={"field": "rating"})
        appeal.rating, appeal.rating_comment = rating, (comment or "")[:500]
        appeal.save(update_fields=["rating", "rating_comment", "updated_at"])
        record_event(
            type="industry.appeal_rated",
            enterprise=appeal.enterprise,
            actor=actor,
            payload={"appeal_id": appeal.id, "rating": rating},
            object_ref=f"industry:appeal:{appeal.id}",
        )
    return appeal
