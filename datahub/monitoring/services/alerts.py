"""The alert lifecycle: raise, clear, acknowledge, assign, comment, link to a case.

Every state change goes through one function here, which writes the alert, appends to its
history, records a datahub event (the feedback loop), publishes domain events after commit and
queues notifications after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cityos import bus
from datahub.core.services import events as events_service
from datahub.iot.models import Datastream
from datahub.monitoring.models import Alert, AlertComment, AlertHistory, AlertRule, EscalationPolicy

log = logging.getLogger(__name__)
ACTIVE = Alert.Status.ACTIVE
CLEARED = Alert.Status.CLEARED


def _history(alert: Alert, action: str, *, actor=None, at: datetime | None = None, note: str = "", **data) -> None:
    AlertHistory.objects.create(alert=alert, action=action, actor=actor, at=at or timezone.now(), note=note, data=data)


def _location(alert: Alert) -> tuple[float | None, float | None]:
    geom = None
    if alert.subject_id and alert.subject and alert.subject.geometry:
        geom = alert.subject.geometry
    elif alert.area_id and alert.area and (alert.area.centroid or alert.area.geometry):
        geom = alert.area.centroid or alert.area.geometry
    if geom is None:
        return None, None
    point = geom if geom.geom_type == "Point" else geom.centroid
    return float(point.x), float(point.y)


def _subject_name(subject_key: str, *, datastream_id=None, area_id=None, subject_id=None) -> str:
    """What the alert is about, as a person reads it: the device and its metric, the area or the
    entity by name (English where it has one and the language is English), else the subject key."""
    from datahub.core.models import Area, Entity

    if datastream_id is not None:
        ds = Datastream.objects.filter(id=datastream_id).select_related("device__entity").first()
        if ds is not None:
            return f"{ds.device.entity} · {ds.metric}"
    if area_id is not None:
        area = Area.objects.filter(id=area_id).first()
        if area is not None:
            return str(area)
    if subject_id is not None:
        entity = Entity.objects.filter(id=subject_id).first()
        if entity is not None:
            return str(entity)
    kind, _sep, ident = subject_key.partition(":")
    if kind == "area" and ident.isdigit():
        area = Area.objects.filter(id=int(ident)).first()
        if area is not None:
            return str(area)
    return subject_key


def _describe(
    rule: AlertRule, subject_key: str, value: float | None, *, datastream_id=None, area_id=None, subject_id=None
) -> tuple[str, str]:
    """Title and description of a new alert, in words: no event codes or subject keys on screen
    (an event type reads by its label, e.g. `complaint.noise` -> its translated name)."""
    from cityos.labels import event_label, known_codes

    event_type = rule.params.get("event_type", "")
    # An event type with a label reads by it; any other (a category code such as complaint.noise)
    # by the rule's kind, "event count" (the rule's own name, in the title too, says what it counts).
    label = event_label(event_type) if event_type in known_codes(("event",)) else ""
    what = rule.metric or label or rule.get_kind_display()
    subject = _subject_name(subject_key, datastream_id=datastream_id, area_id=area_id, subject_id=subject_id)
    if value is None:
        title = _("%(rule)s: no data from %(subject)s") % {"rule": rule.name, "subject": subject}
    else:
        title = _("%(rule)s: %(what)s = %(value)s at %(subject)s") % {
            "rule": rule.name,
            "what": what,
            "value": f"{value:g}",
            "subject": subject,
        }
    return title[:300], rule.description


def _first_escalation(department_id: int | None, now: datetime) -> datetime | None:
    if not department_id:
        return None
    policy = EscalationPolicy.objects.filter(department_id=department_id, is_active=True).first()
    first = policy.levels.order_by("level").first() if policy else None
    return now + timedelta(minutes=first.after_minutes) if first else None


def alert_raise(
    *,
    rule: AlertRule,
    subject_key: str,
    at: datetime,
    value: float | None = None,
    datastream_id: int | None = None,
    area_id: int | None = None,
    subject_id: int | None = None,
    historical: bool = False,
) -> tuple[Alert, bool]:
    """Open the alert of (rule, subject) or, if one is open, note the new trigger.

    Returns (alert, created). The partial unique index on open alerts makes a concurrent second
    raise fail and fall back to the open one: one open alert per rule and subject.

    A `historical` alert (raised by past readings) is recorded — history, event log — but notifies
    nobody, never escalates and opens no case. A live raise that finds a historical alert open
    promotes it.
    """
    try:
        with transaction.atomic():
            open_alert = (
                Alert.objects.select_for_update().filter(rule=rule, subject_key=subject_key, status=ACTIVE).first()
            )
            if open_alert is not None:
                if open_alert.historical and not historical:
                    _promote(open_alert, at=at, value=value)
                    return open_alert, False
                open_alert.last_triggered_at = max(at, open_alert.last_triggered_at or at)
                open_alert.value = value
                open_alert.save(update_fields=["last_triggered_at", "value"])
                return open_alert, False
            title, description = _describe(
                rule, subject_key, value, datastream_id=datastream_id, area_id=area_id, subject_id=subject_id
            )
            now = timezone.now()
            if datastream_id is not None and not Datastream.objects.filter(id=datastream_id).exists():
                # Deleted since its reading was evaluated, or a heartbeat of a deleted datastream:
                # the alert still opens (subject_key names the datastream), without the dangling
                # foreign key. One primary-key probe per new alert, none per observation.
                datastream_id = None
            alert = Alert.objects.create(
                rule=rule,
                subject_key=subject_key,
                datastream_id=datastream_id,
                area_id=area_id,
                subject_id=subject_id,
                department_id=rule.department_id,
                severity=rule.severity,
                title=title,
                description=description,
                value=value,
                raised_at=at,
                last_triggered_at=at,
                next_escalation_at=None if historical else _first_escalation(rule.department_id, now),
                historical=historical,
            )
            _history(
                alert, AlertHistory.Action.RAISED, at=at, value=value, **({"historical": True} if historical else {})
            )
            _after_change(alert, "raised")
            return alert, True
    except IntegrityError:
        return Alert.objects.get(rule=rule, subject_key=subject_key, status=ACTIVE), False


def _promote(alert: Alert, *, at: datetime, value: float | None) -> None:
    """A historical alert whose condition still holds in live readings becomes live (in the
    caller's transaction): it pages, escalates and may open a case from now on."""
    alert.historical = False
    alert.last_triggered_at = at
    alert.value = value
    alert.next_escalation_at = _first_escalation(alert.department_id, timezone.now())
    alert.save(update_fields=["historical", "last_triggered_at", "value", "next_escalation_at"])
    _history(alert, AlertHistory.Action.RAISED, at=at, value=value, promoted=True)
    _after_change(alert, "raised", event_at=at)


def alert_promote_for(*, rule: AlertRule, subject_key: str, at: datetime, value: float | None = None) -> bool:
    """Live readings confirm the condition a backfill raised: promote the open historical alert."""
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .filter(rule=rule, subject_key=subject_key, status=ACTIVE, historical=True)
            .first()
        )
        if alert is None:
            return False
        _promote(alert, at=at, value=value)
        return True


def _after_change(alert: Alert, event: str, *, event_at: datetime | None = None) -> None:
    """Event log, domain event and notifications for a raise or a clear (inside the transaction).

    A historical alert is recorded in the event log (marked historical) and nothing else: no
    domain event (so no case), no notification, no live push.
    """
    lon, lat = _location(alert)
    at = event_at or (alert.raised_at if event == "raised" else alert.cleared_at)
    events_service.event_record(
        type=f"alert.{event}",
        occurred_at=at,
        subject_id=alert.subject_id,
        area_id=alert.area_id,
        lon=lon,
        lat=lat,
        object_ref=f"datahub:alert:{alert.id}",
        department_id=alert.department_id,
        payload={
            "alert_id": alert.id,
            "rule_id": alert.rule_id,
            "severity": alert.severity,
            "value": alert.value,
            "title": alert.title,
            **({"historical": True} if alert.historical else {}),
        },
    )
    if alert.historical:
        return
    if event == "raised":
        bus.publish(
            "monitoring.alert_raised",
            {
                "alert_id": alert.id,
                "rule_name": alert.rule.name,
                "severity": alert.severity,
                "title": alert.title,
                "description": alert.description,
                "lon": lon,
                "lat": lat,
                "area_id": alert.area_id,
                "department_id": alert.department_id,
                "raised_at": alert.raised_at.isoformat(),
                "open_case": bool(alert.rule.open_case),
                # The case's category (a code the case-handling app defines) and, above, its
                # department: both named by the rule, never guessed from the alert's title.
                "rule_id": alert.rule_id,
                "category_code": alert.rule.case_category,
            },
        )
    alert_id = alert.id
    transaction.on_commit(lambda: _notify_safely(alert_id, event))


def _notify_safely(alert_id: int, reason: str) -> None:
    # After commit the alert exists whatever happens here: a failed push (Redis down) is logged,
    # never raised into the ingest path that called on_observations.
    from datahub.monitoring.services.notify import notify_alert

    try:
        notify_alert(alert_id=alert_id, reason=reason)
    except Exception:
        log.exception("notifying alert %s (%s) failed", alert_id, reason)


def alert_clear(*, alert: Alert, at: datetime | None = None, actor=None, reason: str = "manual", value=None) -> bool:
    """Clear an open alert; False if it was not open (clearing twice is harmless)."""
    at = at or timezone.now()
    with transaction.atomic():
        changed = Alert.objects.filter(id=alert.id, status=ACTIVE).update(
            status=CLEARED, cleared_at=at, clear_reason=reason, next_escalation_at=None
        )
        if not changed:
            return False
        alert.refresh_from_db()
        _history(alert, AlertHistory.Action.CLEARED, actor=actor, at=at, note=reason, value=value)
        _after_change(alert, "cleared")
    return True


def alert_clear_for(*, rule: AlertRule, subject_key: str, at: datetime, value: float | None = None) -> bool:
    """The condition recovered: clear the open alert of (rule, subject), if any."""
    alert = Alert.objects.filter(rule=rule, subject_key=subject_key, status=ACTIVE).first()
    return alert_clear(alert=alert, at=at, reason="recovered", value=value) if alert else False


def alert_acknowledge(*, alert: Alert, actor) -> bool:
    """Acknowledge: stops escalation. False if it was already acknowledged."""
    now = timezone.now()
    with transaction.atomic():
        changed = Alert.objects.filter(id=alert.id, acknowledged=False).update(
            acknowledged=True, acknowledged_by=actor, acknowledged_at=now, next_escalation_at=None
        )
        if changed:
            alert.refresh_from_db()
            _history(alert, AlertHistory.Action.ACKNOWLEDGED, actor=actor, at=now)
            _push_change(alert)
    return bool(changed)


def alert_assign(*, alert: Alert, actor, assignee) -> Alert:
    with transaction.atomic():
        alert.assignee = assignee
        alert.save(update_fields=["assignee"])
        _history(
            alert,
            AlertHistory.Action.ASSIGNED,
            actor=actor,
            assignee_id=assignee.id if assignee else None,
            note=str(assignee) if assignee else "",
        )
        _push_change(alert)
    return alert


def alert_comment(*, alert: Alert, actor, text: str) -> AlertComment:
    text = (text or "").strip()
    if not text:
        raise ValueError("text: a comment cannot be empty")
    with transaction.atomic():
        comment = AlertComment.objects.create(alert=alert, author=actor, text=text)
        _history(alert, AlertHistory.Action.COMMENTED, actor=actor, note=text[:500])
        _push_change(alert)
    return comment


def alert_bulk(*, alerts: list[Alert], action: str, actor, assignee=None) -> int:
    """Acknowledge, clear or assign many alerts; returns how many changed."""
    n = 0
    for alert in alerts:
        if action == "acknowledge":
            n += alert_acknowledge(alert=alert, actor=actor)
        elif action == "clear":
            n += alert_clear(alert=alert, actor=actor, reason="manual")
        elif action == "assign":
            alert_assign(alert=alert, actor=actor, assignee=assignee)
            n += 1
        else:
            raise ValueError(f"action: unknown bulk action {action!r}")
    return n


def alert_link_case(*, alert: Alert, case_id: int | None, tracking_number: str = "") -> None:
    with transaction.atomic():
        Alert.objects.filter(id=alert.id).update(case_id=case_id, case_tracking_number=tracking_number[:64])
        _history(alert, AlertHistory.Action.CASE_LINKED, note=tracking_number, case_id=case_id)


def _push_change(alert: Alert) -> None:
    from datahub.monitoring.services.notify import push_change

    alert_id = alert.id
    transaction.on_commit(lambda: push_change(alert_id=alert_id))
