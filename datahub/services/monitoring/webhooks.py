"""Webhook endpoints: create (with a generated secret, returned once), update, re-enable, rotate
the secret, send a test delivery, delete. Delivery itself (signing, retries, dead letters,
auto-disabling) is in `notify`."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from datahub.models import WebhookDelivery, WebhookEndpoint
from datahub.models.monitoring import WEBHOOK_TEST_EVENT, WebhookEvent

EDITABLE = ["name", "url", "department_id", "min_severity", "events", "max_attempts", "disable_after"]


def new_secret() -> str:
    # 32 random bytes (256 bits, the HMAC-SHA256 key size), URL-safe so it pastes anywhere.
    return secrets.token_urlsafe(32)


def _clean_events(events: list[str] | None) -> list[str]:
    events = list(dict.fromkeys(events or []))
    bad = [e for e in events if e not in WebhookEvent.values]
    if bad:
        raise ValueError(f"events: unknown events {', '.join(bad)} (known: {', '.join(WebhookEvent.values)})")
    return events


def webhook_create(*, name: str, url: str, **fields) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its signing secret, which the caller shows once."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: not an editable field")
    fields["events"] = _clean_events(fields.get("events"))
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(name=name, url=url, secret=secret, **fields)
    return endpoint, secret


def webhook_update(*, endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    for name, value in fields.items():
        if name not in EDITABLE or name == "secret":
            raise ValueError(f"{name}: not an editable field")
        setattr(endpoint, name, _clean_events(value) if name == "events" else value)
    endpoint.save()
    return endpoint


def webhook_disable(*, endpoint: WebhookEndpoint, actor) -> bool:
    """Switch an endpoint off by hand (the reason names who); False if it was already off."""
    reason = _("Disabled by %(user)s") % {"user": actor}
    changed = WebhookEndpoint.objects.filter(id=endpoint.id, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:300]
    )
    endpoint.refresh_from_db()
    return bool(changed)


def webhook_reenable(*, endpoint: WebhookEndpoint) -> bool:
    """Enable again with a clean failure count; False if it was enabled already.

    Deliveries dead-lettered while it was off stay in the log; they can be redelivered one by one.
    """
    changed = WebhookEndpoint.objects.filter(id=endpoint.id, is_active=False).update(
        is_active=True, disabled_at=None, disabled_reason="", consecutive_failures=0
    )
    endpoint.refresh_from_db()
    return bool(changed)


def webhook_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret (the old one stops working at once); returned once."""
    secret = new_secret()
    WebhookEndpoint.objects.filter(id=endpoint.id).update(secret=secret)
    endpoint.secret = secret
    return secret


def webhook_send_test(*, endpoint: WebhookEndpoint, actor=None) -> WebhookDelivery:
    """Queue one signed test POST (event "webhook.test") to the endpoint, enabled or not.

    It shows in the delivery log like any other delivery, with its status code.
    """
    payload = {
        "event": WEBHOOK_TEST_EVENT,
        "endpoint": {"id": endpoint.id, "name": endpoint.name},
        "sent_at": timezone.now().isoformat(),
        "requested_by": getattr(actor, "username", None),
    }
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=WEBHOOK_TEST_EVENT, payload=payload)
    from datahub.tasks.monitoring import deliver_webhook

    delivery_id = delivery.id
    transaction.on_commit(lambda: deliver_webhook.delay(delivery_id))
    return delivery


def webhook_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()  # its delivery log goes with it
