"""Reactions to other apps' domain events. Idempotent: the origin_ref unique constraint makes a
redelivered event return the case it already created."""

from governance.models import Channel, Priority
from governance.services.cases import case_create

_SEVERITY_PRIORITY = {
    "critical": Priority.URGENT,
    "major": Priority.HIGH,
    "minor": Priority.NORMAL,
    "warning": Priority.NORMAL,
    "info": Priority.LOW,
}


def on_alert_raised(payload: dict) -> int | None:
    if not payload.get("open_case"):
        return None
    case = case_create(
        channel=Channel.ALERT,
        title=payload.get("title") or payload.get("rule_name") or f"alert {payload['alert_id']}",
        description=payload.get("description") or "",
        priority=_SEVERITY_PRIORITY.get(payload.get("severity", ""), Priority.NORMAL),
        lon=payload.get("lon"),
        lat=payload.get("lat"),
        origin="alert",
        origin_ref=f"alert:{payload['alert_id']}",
        attributes={"rule_name": payload.get("rule_name"), "raised_at": payload.get("raised_at")},
    )
    if payload.get("department_id") and case.department_id is None and case.status == "received":
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
