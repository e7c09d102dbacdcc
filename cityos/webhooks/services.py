"""Event subscriptions of external applications: manage them, fan events out to them, deliver.

- `subscription_create` … `subscription_delete`: every change of a subscription goes through here.
- A subscription belongs to an external application, or (application empty) to the city's own
  staff: the monitoring webhook pages manage those (`application=None, created_by=<staff user>`).
- `event_publish(code, data, area_id=, category=, severity=, department_id=)`: one outbound event; after commit,
  one EventDelivery per matching active subscription, each sent by its own Celery task. The
  publisher never waits for a subscriber (a dead endpoint costs it nothing).
- `delivery_attempt`: one signed POST (cityos.webhooks.delivery); success, a retry later
  (exponential backoff), or the dead letter after `max_attempts`; `disable_after` dead letters
  in a row switch the subscription off. At least once: a delivery is marked succeeded only after
  a 2xx, and the beat sweep (`event_deliveries_sweep`) re-queues retries a lost worker dropped.
- `delivery_replay`: a dead letter gets fresh attempts (and its subscription is switched on again).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cityos.models import ApiApplication, EventDelivery, EventSubscription

from . import catalogue
from .delivery import backoff_s, post_signed

log = logging.getLogger(__name__)
EDITABLE = (
    "name",
    "url",
    "events",
    "area_ids",
    "categories",
    "min_severity",
    "department_id",
    "max_attempts",
    "disable_after",
)


class SubscriptionError(ValueError):
    """Bad input: `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits, the HMAC-SHA256 key size


def _clean(fields: dict, *, application: ApiApplication | None, partial: bool) -> dict:
    out = {}
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise SubscriptionError(sorted(unknown)[0], "not an editable field")
    if "name" in fields or not partial:
        name = str(fields.get("name") or "").strip()
        if not name or len(name) > 200:
            raise SubscriptionError("name", "required, at most 200 characters")
        out["name"] = name
    if "url" in fields or not partial:
        url = str(fields.get("url") or "")
        if not url.startswith(("http://", "https://")) or len(url) > 500 or any(c.isspace() for c in url):
            raise SubscriptionError("url", "an http(s) URL of at most 500 characters")
        out["url"] = url
    if "events" in fields or not partial:
        events = fields.get("events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise SubscriptionError("events", f"a non-empty list of event codes ({', '.join(catalogue.EVENTS)})")
        bad = [e for e in events if e not in catalogue.EVENTS]
        if bad:
            raise SubscriptionError("events", f"unknown event(s) {', '.join(bad)}")
        refused = [e for e in events if catalogue.EVENTS[e].restricted and not _may_see_restricted(application)]
        if refused:
            raise SubscriptionError(
                "events", f"{', '.join(refused)}: restricted events need an application an administrator granted access"
            )
        out["events"] = list(dict.fromkeys(events))
    if "area_ids" in fields:
        ids = fields["area_ids"] or []
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise SubscriptionError("area_ids", "a list of area ids")
        known = _known_areas(ids)
        missing = sorted(set(ids) - known)
        if missing:
            raise SubscriptionError("area_ids", f"no area with id {missing[0]}")
        out["area_ids"] = sorted(set(ids))
    if "categories" in fields:
        cats = fields["categories"] or []
        if not isinstance(cats, list) or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in cats):
            raise SubscriptionError("categories", "a list of category codes")
        out["categories"] = sorted(set(cats))
    if "min_severity" in fields:
        sev = fields["min_severity"] or ""
        if sev and sev not in catalogue.SEVERITIES:
            raise SubscriptionError("min_severity", f"one of {', '.join(catalogue.SEVERITIES)} or empty")
        out["min_severity"] = sev
    if "department_id" in fields:
        dep = fields["department_id"]
        if dep is not None and (not isinstance(dep, int) or isinstance(dep, bool) or not _department_exists(dep)):
            raise SubscriptionError("department_id", f"no department with id {dep}")
        out["department_id"] = dep
    for name, high in (("max_attempts", 20), ("disable_after", 100)):
        if name in fields:
            value = fields[name]
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
                raise SubscriptionError(name, f"a whole number from 1 to {high}")
            out[name] = value
    return out


def _may_see_restricted(application: ApiApplication | None) -> bool:
    # The city's own (staff) subscriptions, or an application an administrator granted access.
    return application is None or application.access_level == ApiApplication.Level.OWNER


def _department_exists(department_id: int) -> bool:
    from datahub.core.models import Department

    return Department.objects.filter(id=department_id).exists()


def _known_areas(ids: list[int]) -> set[int]:
    from datahub.core.models import Area

    return set(Area.objects.filter(id__in=ids).values_list("id", flat=True))


def subscription_create(
    *, application: ApiApplication | None, created_by=None, **fields
) -> tuple[EventSubscription, str]:
    """A new active subscription and its signing secret (shown once). Without an application it is
    the city's own, made by a staff user (`created_by`)."""
    if application is None and (created_by is None or not _is_staff(created_by)):
        raise SubscriptionError("application", "a subscription without an application is made by city staff")
    clean = _clean(fields, application=application, partial=False)
    secret = new_secret()
    sub = EventSubscription.objects.create(application=application, secret=secret, created_by=created_by, **clean)
    return sub, secret


def _is_staff(user) -> bool:
    from cityos.roles import STAFF_ROLES

    return bool(user.is_superuser or getattr(user, "role", None) in STAFF_ROLES)


def subscription_update(*, subscription: EventSubscription, **fields) -> EventSubscription:
    clean = _clean(fields, application=subscription.application, partial=True)
    for name, value in clean.items():
        setattr(subscription, name, value)
    subscription.save()
    return subscription


def subscription_rotate_secret(*, subscription: EventSubscription) -> str:
    secret = new_secret()
    EventSubscription.objects.filter(id=subscription.id).update(secret=secret)
    subscription.secret = secret
    return secret


def subscription_enable(*, subscription: EventSubscription) -> bool:
    """On again with a clean failure count; False if it was on already."""
    changed = EventSubscription.objects.filter(id=subscription.id, is_active=False).update(
        is_active=True, disabled_at=None, disabled_reason="", consecutive_failures=0
    )
    subscription.refresh_from_db()
    return bool(changed)


def subscription_disable(*, subscription: EventSubscription, actor=None) -> bool:
    reason = _("Disabled by %(user)s") % {"user": actor} if actor else _("Disabled")
    changed = EventSubscription.objects.filter(id=subscription.id, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:300]
    )
    subscription.refresh_from_db()
    return bool(changed)


def subscription_delete(*, subscription: EventSubscription) -> None:
    subscription.delete()  # its delivery log goes with it


def subscription_send_test(*, subscription: EventSubscription) -> EventDelivery:
    """One signed test delivery (enabled or not), logged like the others."""
    envelope = {
        "id": str(uuid.uuid4()),
        "event": catalogue.TEST_EVENT,
        "occurred_at": timezone.now().isoformat(),
        "data": {"subscription_id": subscription.id, "name": subscription.name},
    }
    d = EventDelivery.objects.create(
        subscription=subscription, event_id=envelope["id"], event=catalogue.TEST_EVENT, payload=envelope
    )
    _queue_after_commit([d.id])
    return d


# --- fan-out ---------------------------------------------------------------------------------------------------


def _rank(severity: str | None) -> int:
    return catalogue.SEVERITIES.index(severity) if severity in catalogue.SEVERITIES else -1


def matches(
    sub: EventSubscription,
    *,
    code: str,
    area_ids: set[int],
    categories: set[str],
    severity: str | None,
    department_id: int | None = None,
) -> bool:
    if code not in sub.events:
        return False
    if catalogue.EVENTS[code].restricted and not _may_see_restricted(sub.application):
        return False  # the grant was withdrawn after the subscription was made
    if sub.department_id and sub.department_id != department_id:
        return False
    if sub.area_ids and not (set(sub.area_ids) & area_ids):
        return False
    if sub.categories and not set(sub.categories) & categories:
        return False
    if sub.min_severity and _rank(severity) < _rank(sub.min_severity):
        return False
    return True


def _area_and_ancestors(area_id: int | None) -> set[int]:
    """The event's area and every area above it: a subscription to a district hears of its streets."""
    if not area_id:
        return set()
    from datahub.core.models import Area

    out, current = set(), area_id
    while current and current not in out:
        out.add(current)
        current = Area.objects.filter(id=current).values_list("parent_id", flat=True).first()
    return out


def event_publish(
    *,
    code: str,
    data: dict,
    occurred_at: datetime | None = None,
    area_id: int | None = None,
    category: str | list[str] | None = None,
    severity: str | None = None,
    department_id: int | None = None,
    event_id: uuid.UUID | None = None,
) -> list[int]:
    """Create the deliveries of one event for every matching active subscription (returns their ids);
    they are sent after commit, each by its own task. Subscriptions of unapproved organisations hear
    nothing; the city's own (no application) hear everything they subscribed to.

    `event_id`: a stable id for this event (the sources derive it from the event log's row), so a
    publisher run twice (a domain-event task retried or redelivered) adds no second delivery to a
    subscription that already has one; without it every call is a new event."""
    if code not in catalogue.EVENTS:
        raise ValueError(f"event: unknown event {code!r}")
    subs = list(
        EventSubscription.objects.filter(is_active=True, events__contains=[code])
        .filter(Q(application__isnull=True) | Q(application__organisation__is_approved=True))
        .select_related("application")
    )
    if not subs:
        return []
    areas = _area_and_ancestors(area_id)
    categories = set(category) if isinstance(category, list) else {category} if category else set()
    envelope = {
        "id": str(event_id or uuid.uuid4()),
        "event": code,
        "occurred_at": (occurred_at or timezone.now()).isoformat(),
        "area_id": area_id,
        "category": category,
        "severity": severity,
        "data": catalogue.data_for(code, data),
    }
    rows = [
        EventDelivery(subscription=s, event_id=envelope["id"], event=code, payload=envelope)
        for s in subs
        if matches(s, code=code, area_ids=areas, categories=categories, severity=severity, department_id=department_id)
    ]
    if event_id is not None:
        # A rerun of the same event: keep the deliveries made the first time (and queued then);
        # a concurrent rerun hits the (subscription, event_id) constraint and its task retries.
        done = set(
            EventDelivery.objects.filter(
                event_id=event_id, subscription__in=[r.subscription for r in rows]
            ).values_list("subscription_id", flat=True)
        )
        rows = [r for r in rows if r.subscription.id not in done]
    EventDelivery.objects.bulk_create(rows)
    ids = [r.id for r in rows]
    _queue_after_commit(ids)
    return ids


def _queue_after_commit(ids: list[int]) -> None:
    if not ids:
        return
    from .tasks import event_deliver

    def send():
        for delivery_id in ids:
            event_deliver.delay(delivery_id)

    transaction.on_commit(send)


# --- delivery ------------------------------------------------------------------------------------------------


def _timeout() -> float:
    return float(getattr(settings, "EVENT_WEBHOOK_TIMEOUT_S", 10.0))


def retry_base_s() -> int:
    return int(getattr(settings, "EVENT_WEBHOOK_BACKOFF_S", 30))


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt: "succeeded", "retry" (again later), "dead", or "done" (nothing to do)."""
    d = EventDelivery.objects.select_related("subscription").filter(id=delivery_id).first()
    if d is None or d.status in (EventDelivery.Status.SUCCEEDED, EventDelivery.Status.DEAD):
        return "done"
    sub = d.subscription
    is_test = d.event == catalogue.TEST_EVENT
    if not sub.is_active and not is_test:
        EventDelivery.objects.filter(id=d.id).update(status=EventDelivery.Status.DEAD, next_attempt_at=None)
        return "dead"
    result = post_signed(
        url=sub.url,
        secret=sub.secret,
        event=d.event,
        delivery_id=str(d.event_id),
        payload=d.payload,
        timeout=_timeout(),
    )
    now = timezone.now()
    with transaction.atomic():
        d = EventDelivery.objects.select_for_update().get(id=d.id)
        if d.status in (EventDelivery.Status.SUCCEEDED, EventDelivery.Status.DEAD):
            return "done"  # another worker finished it meanwhile
        d.attempts += 1
        d.attempt_log = [*d.attempt_log[-49:], result.log_entry(now.isoformat())]
        d.last_status_code = result.status_code
        d.next_attempt_at = None
        if result.ok:
            d.status, d.delivered_at, outcome = EventDelivery.Status.SUCCEEDED, now, "succeeded"
            if not is_test:
                EventSubscription.objects.filter(id=sub.id).exclude(consecutive_failures=0).update(
                    consecutive_failures=0
                )
        elif is_test or d.attempts >= sub.max_attempts:
            d.status, outcome = EventDelivery.Status.DEAD, "dead"
            if not is_test:
                _count_dead(sub.id, result.error)
        else:
            d.status, outcome = EventDelivery.Status.RETRYING, "retry"
            d.next_attempt_at = now + timedelta(seconds=backoff_s(d.attempts, base=retry_base_s()))
        d.save(
            update_fields=["attempts", "attempt_log", "last_status_code", "status", "delivered_at", "next_attempt_at"]
        )
    return outcome


def _count_dead(sub_id: int, error: str) -> None:
    sub = EventSubscription.objects.select_for_update().get(id=sub_id)
    sub.consecutive_failures += 1
    fields = ["consecutive_failures"]
    if sub.is_active and sub.consecutive_failures >= sub.disable_after:
        sub.is_active, sub.disabled_at = False, timezone.now()
        sub.disabled_reason = (
            _("Disabled automatically: %(n)s deliveries in a row were dead-lettered (last error: %(error)s)")
            % {"n": sub.consecutive_failures, "error": error}
        )[:300]
        fields += ["is_active", "disabled_at", "disabled_reason"]
        log.warning("event subscription %s disabled after %s dead deliveries", sub.id, sub.consecutive_failures)
    sub.save(update_fields=fields)


def delivery_retry_delay_s(*, delivery_id: int) -> float:
    at = EventDelivery.objects.filter(id=delivery_id).values_list("next_attempt_at", flat=True).first()
    return max((at - timezone.now()).total_seconds(), 0.0) if at else 0.0


def delivery_replay(*, delivery: EventDelivery) -> EventDelivery:
    """A dead letter (or any delivery) sent again with fresh attempts; its subscription back on."""
    EventSubscription.objects.filter(id=delivery.subscription_id).update(
        is_active=True, disabled_at=None, disabled_reason="", consecutive_failures=0
    )
    EventDelivery.objects.filter(id=delivery.id).update(
        status=EventDelivery.Status.PENDING, attempts=0, next_attempt_at=None
    )
    _queue_after_commit([delivery.id])
    delivery.refresh_from_db()
    return delivery


def deliveries_sweep(*, now: datetime | None = None) -> int:
    """Beat: re-queue deliveries whose retry time passed more than a minute ago (a worker that
    died took its countdown with it) and pending ones older than a minute. At least once."""
    now = now or timezone.now()
    late = now - timedelta(minutes=1)
    ids = list(
        EventDelivery.objects.filter(status=EventDelivery.Status.RETRYING, next_attempt_at__lt=late).values_list(
            "id", flat=True
        )[:1000]
    ) + list(
        EventDelivery.objects.filter(status=EventDelivery.Status.PENDING, created_at__lt=late).values_list(
            "id", flat=True
        )[:1000]
    )
    _queue_after_commit(ids)
    return len(ids)
