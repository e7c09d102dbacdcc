"""Where outbound events come from: domain events on the bus (cityos.bus), subscribed in ready().

The datahub's event log is what every app did (`datahub.event_recorded`): cases (`case.<action>`),
alerts (`alert.raised` / `alert.cleared`, with their department) and notices (`livelihood.notice_published`) are read from
it, with their area, category and severity; dataset versions come from `datahub.dataset_updated`.
Only the datahub is read here (never an app's models).
"""

from __future__ import annotations

import uuid

from . import services

BUS_EVENTS = {
    "datahub.event_recorded": "cityos.webhooks.sources.on_event_recorded",
    "datahub.dataset_updated": "cityos.webhooks.sources.on_dataset_updated",
}
# governance's ending actions (its payloads say which action ended a case).
CASE_ENDING = {"close", "reject", "merge"}


def setup() -> None:
    from cityos import bus

    for event, handler in BUS_EVENTS.items():
        bus.subscribe(event, handler)


def _subscribed(code: str) -> bool:
    from cityos.models import EventSubscription

    return EventSubscription.objects.filter(is_active=True, events__contains=[code]).exists()


def on_event_recorded(payload: dict) -> None:
    event_id, etype = payload.get("event_id"), payload.get("type") or ""
    if not event_id:
        return  # bulk summaries carry no single event
    if etype.startswith("case."):
        action = etype.split(".", 1)[1]
        codes = ["case.created"] if action == "received" else ["case.updated"]
        if action in CASE_ENDING:
            codes.append("case.closed")
    elif etype in ("alert.raised", "alert.cleared"):
        codes = [etype]
    elif etype == "livelihood.notice_published":
        codes = ["notice.published"]
    else:
        return
    codes = [c for c in codes if _subscribed(c)]
    if not codes:
        return  # nobody listens: no read of the event
    from datahub.models import Event

    ev = Event.objects.filter(id=event_id).first()
    if ev is None:
        return
    p = ev.payload or {}
    if p.get("historical"):
        return
    data = dict(p)
    category = severity = department_id = None
    if etype.startswith("case."):
        data["action"] = etype.split(".", 1)[1]
        category = p.get("category")
    elif etype.startswith("alert."):
        # The alert's department: staff subscriptions may keep to one (the old monitoring webhooks did).
        severity, department_id = p.get("severity"), ev.department_id
        data["department_id"] = department_id
    else:
        data["notice_id"] = int(ev.object_ref.rsplit(":", 1)[1]) if ev.object_ref.count(":") == 2 else None
    for code in codes:
        services.event_publish(
            code=code,
            data=data,
            occurred_at=ev.occurred_at,
            area_id=ev.area_id,
            category=category,
            severity=severity,
            department_id=department_id,
            # One event log row, one event per code: a retried or redelivered bus task adds nothing.
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"cityos:event:{ev.id}:{code}"),
        )


def on_dataset_updated(payload: dict) -> None:
    if not _subscribed("dataset.updated"):
        return
    from datahub.models import Dataset

    ds = Dataset.objects.filter(id=payload.get("dataset_id")).values("id", "title", "level", "tags").first()
    if ds is None or ds["level"] != Dataset.Level.PUBLIC:
        return  # only public datasets are announced outside
    data = {**payload, "title": ds["title"]}
    services.event_publish(code="dataset.updated", data=data, category=list(ds["tags"] or []))
