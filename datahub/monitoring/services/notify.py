"""Notifications of alerts: in-app (WebSocket), email; preferences, quiet hours, escalation.

Webhooks are not sent from here: a monitoring webhook is an event subscription of the city's staff
(cityos.webhooks, see datahub.monitoring.services.webhooks) and hears of raises and clears from the
event log, like any subscriber: one mechanism, one delivery per alert event and subscription.

Who hears of an alert: the rule's department members and its extra recipients; then each
escalation level's users and roles. Each user's preference per channel filters by severity and
rule kind; during quiet hours non-critical notifications are suppressed or deferred.
Without a preference row a user gets every alert in the app and major/critical ones by email.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cityos import realtime
from datahub.core.models import Department
from datahub.monitoring.models import (
    SEVERITY_RANK,
    Alert,
    AlertHistory,
    EscalationPolicy,
    Notification,
    NotificationPreference,
)

log = logging.getLogger(__name__)
DEFAULT_MIN_SEVERITY = {"in_app": "info", "email": "major"}


def alert_live_data(alert: Alert) -> dict:
    return {
        "id": alert.id,
        "title": alert.title,
        "severity": alert.severity,
        "status": alert.status,
        "acknowledged": alert.acknowledged,
        "assignee": alert.assignee_id,
        "rule_id": alert.rule_id,
        "department_id": alert.department_id,
        "raised_at": alert.raised_at.isoformat(),
        "critical": alert.severity == "critical",
    }


def push_change(*, alert_id: int) -> None:
    """Tell open consoles of the alert's department (and city-wide consoles) that it changed.

    The broadcast carries ids and state only (no title): consoles refetch what their user may see.
    """
    alert = Alert.objects.filter(id=alert_id).first()
    if alert is None:
        return
    brief = {k: v for k, v in alert_live_data(alert).items() if k != "title"} | {"feed": False}
    realtime.publish_broadcast("alert.changed", brief)


# --- recipients and preferences ------------------------------------------------------------------


def recipients_for(alert: Alert) -> set[int]:
    users = set(alert.rule.notify_users.values_list("id", flat=True))
    if alert.department_id:
        users |= set(
            get_user_model()
            .objects.filter(department_id=alert.department_id, is_active=True)
            .values_list("id", flat=True)
        )
    return users


def in_quiet_hours(pref: NotificationPreference, now: datetime) -> bool:
    if pref.quiet_start is None or pref.quiet_end is None or pref.quiet_start == pref.quiet_end:
        return False
    local = timezone.localtime(now).time()
    if pref.quiet_start < pref.quiet_end:
        return pref.quiet_start <= local < pref.quiet_end
    return local >= pref.quiet_start or local < pref.quiet_end  # over midnight, e.g. 22:00-07:00


def quiet_end_after(pref: NotificationPreference, now: datetime) -> datetime:
    local = timezone.localtime(now)
    end = local.replace(hour=pref.quiet_end.hour, minute=pref.quiet_end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end


def decide(
    pref: NotificationPreference | None, channel: str, alert: Alert, now: datetime
) -> tuple[str, datetime | None]:
    """("send" | "skip" | "suppress" | "defer", deliver_after) for one user and channel."""
    if pref is None:
        ok = SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[DEFAULT_MIN_SEVERITY[channel]]
        return ("send" if ok else "skip"), None
    if not pref.enabled or SEVERITY_RANK[alert.severity] < SEVERITY_RANK[pref.min_severity]:
        return "skip", None
    if pref.rule_kinds and alert.rule.kind not in pref.rule_kinds:
        return "skip", None
    if alert.severity != "critical" and in_quiet_hours(pref, now):
        if pref.quiet_action == NotificationPreference.QuietAction.DEFER:
            return "defer", quiet_end_after(pref, now)
        return "suppress", None
    return "send", None


def notify_alert(
    *,
    alert_id: int,
    reason: str,
    user_ids: set[int] | None = None,
    now: datetime | None = None,
    channels: list[str] | None = None,
) -> int:
    """Notify recipients of a raise, a clear or an escalation; returns notifications sent or queued.

    Runs after commit. In-app pushes go out at once (they are what the ≤ 300 ms target measures);
    emails go to Celery. `channels` narrows the channels (an escalation level's
    choice); each user's preference still decides within them.
    """
    alert = Alert.objects.select_related("rule").filter(id=alert_id).first()
    if alert is None:
        return 0
    now = now or timezone.now()
    users = recipients_for(alert) if user_ids is None else set(user_ids)
    data = alert_live_data(alert)
    event = "alert.raised" if reason == "raised" else "alert.cleared" if reason == "cleared" else "alert.escalated"
    prefs = {(p.user_id, p.channel): p for p in NotificationPreference.objects.filter(user_id__in=users)}
    count = 0
    emails: list[int] = []
    wanted = [c for c in ("in_app", "email") if not channels or c in channels]
    for user_id in sorted(users):
        for channel in wanted:
            verdict, after = decide(prefs.get((user_id, channel)), channel, alert, now)
            if verdict == "skip":
                continue
            status = {"send": "pending", "suppress": "suppressed", "defer": "deferred"}[verdict]
            try:
                with transaction.atomic():
                    note = Notification.objects.create(
                        alert=alert, user_id=user_id, channel=channel, reason=reason, status=status, deliver_after=after
                    )
            except IntegrityError:
                continue  # already notified for this reason: escalation or a retry ran twice
            if verdict != "send":
                continue
            count += 1
            if channel == "in_app":
                realtime.publish_to_user(user_id, event, data)
                Notification.objects.filter(id=note.id).update(status="sent", sent_at=timezone.now())
            else:
                emails.append(note.id)
    push_change(alert_id=alert.id)
    if emails:
        from datahub.monitoring.tasks import deliver_email

        for note_id in emails:
            deliver_email.delay(note_id)
    return count


def email_send(*, notification_id: int) -> bool:
    """Send one email notification (idempotent: claims the row first)."""
    claimed = Notification.objects.filter(id=notification_id, channel="email", status="pending").update(
        status="sent", sent_at=timezone.now()
    )
    if not claimed:
        return False
    note = Notification.objects.select_related("alert", "user").get(id=notification_id)
    if not note.user.email:
        Notification.objects.filter(id=note.id).update(status="failed", error="user has no email address")
        return False
    alert = note.alert
    subject = f"[{alert.get_severity_display()}] {alert.title}"
    body = "\n".join(
        [
            alert.title,
            f"{_('Status')}: {alert.get_status_display()}",
            f"{_('Raised at')}: {timezone.localtime(alert.raised_at):%Y-%m-%d %H:%M}",
            alert.description,
        ]
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [note.user.email])
    except Exception as exc:
        # Back to pending so the task's retry sends it again.
        Notification.objects.filter(id=note.id).update(status="pending", error=str(exc)[:500])
        raise
    return True


def deferred_flush(*, now: datetime | None = None) -> int:
    """Send notifications deferred by quiet hours whose time has come."""
    now = now or timezone.now()
    sent = 0
    for note in Notification.objects.filter(status="deferred", deliver_after__lte=now).select_related("alert"):
        if not Notification.objects.filter(id=note.id, status="deferred").update(status="pending"):
            continue
        if note.channel == "in_app":
            realtime.publish_to_user(note.user_id, "alert.raised", alert_live_data(note.alert))
            Notification.objects.filter(id=note.id).update(status="sent", sent_at=now)
        else:
            from datahub.monitoring.tasks import deliver_email

            deliver_email.delay(note.id)
        sent += 1
    return sent


# --- escalation ----------------------------------------------------------------------------------


def level_users(level, department_id: int) -> set[int]:
    users = set(level.users.values_list("id", flat=True))
    if level.roles:
        root = Department.objects.filter(id=department_id).only("path").first()
        if root:
            users |= set(
                get_user_model()
                .objects.filter(department__path__startswith=root.path, role__in=level.roles, is_active=True)
                .values_list("id", flat=True)
            )
    return users


def escalate_due(*, now: datetime | None = None) -> int:
    """Notify the next level for every unacknowledged alert whose escalation time has come.

    Repeats the last level every `repeat_minutes` until someone acknowledges. Safe to run twice
    at once: each step is claimed by a conditional update on (level, due time).
    """
    now = now or timezone.now()
    done = 0
    due = Alert.objects.filter(status="active", acknowledged=False, next_escalation_at__lte=now).values_list(
        "id", "escalation_level", "next_escalation_at", "department_id"
    )
    policies: dict[int, tuple] = {}
    for alert_id, current, due_at, department_id in due:
        if department_id not in policies:
            policy = EscalationPolicy.objects.filter(department_id=department_id, is_active=True).first()
            policies[department_id] = (policy, list(policy.levels.order_by("level")) if policy else [])
        policy, levels = policies[department_id]
        if not levels:
            Alert.objects.filter(id=alert_id).update(next_escalation_at=None)
            continue
        round_no = current + 1
        level = levels[min(round_no, len(levels)) - 1]
        delay = levels[round_no].after_minutes if round_no < len(levels) else policy.repeat_minutes
        claimed = Alert.objects.filter(
            id=alert_id, escalation_level=current, next_escalation_at=due_at, acknowledged=False, status="active"
        ).update(escalation_level=round_no, next_escalation_at=now + timedelta(minutes=max(delay, 1)))
        if not claimed:
            continue
        alert = Alert.objects.get(id=alert_id)
        AlertHistory.objects.create(
            alert=alert,
            action=AlertHistory.Action.ESCALATED,
            at=now,
            note=f"L{level.level}",
            data={"round": round_no, "level": level.level},
        )
        notify_alert(
            alert_id=alert_id,
            reason=f"escalation:{round_no}",
            user_ids=level_users(level, department_id),
            now=now,
            channels=level.channels or None,
        )
        done += 1
    return done
