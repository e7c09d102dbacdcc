"""Notices (公告): Markdown rendered safely, audience areas, scheduled publish and expiry, live push, digests."""

import secrets
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from datahub import facade
from livelihood.models import Notice, NoticeSubscription, PublishStatus

from .errors import LivelihoodError

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render_markdown(text: str) -> str:
    """Markdown to HTML with raw HTML disabled, then sanitised by nh3 (an allow-list of tags; links get
    rel="noopener noreferrer" and only http(s)/mailto schemes): a notice can never carry script."""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(text or "")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


@transaction.atomic
def notice_save(
    *,
    notice_id: int | None = None,
    department_id: int,
    title: str,
    body: str,
    title_en: str = "",
    body_en: str = "",
    area_ids: list[int] | None = None,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
    pinned: bool = False,
    actor=None,
) -> Notice:
    if not title.strip():
        raise LivelihoodError("title is required", field="title")
    if not body.strip():
        raise LivelihoodError("body is required", field="body")
    publish_at = publish_at or timezone.now()
    if expires_at is not None and expires_at <= publish_at:
        raise LivelihoodError("expires_at: must be after publish_at", field="expires_at")
    for area_id in area_ids or []:
        if facade.area_get(id=area_id) is None:
            raise LivelihoodError(f"areas: unknown area {area_id}", field="areas")
    notice = Notice.objects.select_for_update().get(pk=notice_id) if notice_id else Notice(created_by=actor)
    notice.department_id, notice.title, notice.body = department_id, title.strip()[:200], body
    notice.title_en, notice.body_en = title_en[:200], body_en
    notice.publish_at, notice.expires_at, notice.pinned = publish_at, expires_at, pinned
    notice.save()
    notice.areas.set(area_ids or [])
    return notice


@transaction.atomic
def notice_set_status(*, notice_id: int, status: str, actor=None) -> Notice:
    if status not in (PublishStatus.PUBLISHED, PublishStatus.UNPUBLISHED):
        raise LivelihoodError("status: publish or unpublish", field="status")
    notice = Notice.objects.select_for_update().get(pk=notice_id)
    notice.status = status
    notice.save(update_fields=["status"])
    if status == PublishStatus.PUBLISHED and notice.publish_at <= timezone.now():
        _announce(notice)
    return notice


def _announce(notice: Notice) -> None:
    """Once per notice (claimed by a conditional update): datahub event and a live push after commit."""
    if not Notice.objects.filter(pk=notice.pk, announced_at__isnull=True).update(announced_at=timezone.now()):
        return
    area_ids = list(notice.areas.values_list("id", flat=True))
    facade.event_record(
        type="livelihood.notice_published",
        area_id=area_ids[0] if len(area_ids) == 1 else None,
        object_ref=f"livelihood:notice:{notice.id}",
        payload={"department_id": notice.department_id, "areas": area_ids, "pinned": notice.pinned},
    )
    data = {"id": notice.id, "title": notice.title, "title_en": notice.title_en, "areas": area_ids,
            "pinned": notice.pinned, "url": f"/portal/notices/{notice.id}/"}  # fmt: skip

    def push():
        from cityos import realtime
        from livelihood.consumers import PORTAL_GROUP

        try:
            realtime.publish_broadcast("livelihood.notice", data)
            realtime.publish_to_group(PORTAL_GROUP, "livelihood.notice", data)
        except Exception:  # noqa: BLE001 - a push is best-effort; the portal also polls on load
            import logging

            logging.getLogger(__name__).warning("notice push failed", exc_info=True)

    transaction.on_commit(push)


def notices_announce_due() -> int:
    """Beat: announce scheduled notices whose publish time has come (idempotent)."""
    due = Notice.objects.filter(
        status=PublishStatus.PUBLISHED, announced_at__isnull=True, publish_at__lte=timezone.now()
    )
    n = 0
    for notice in due[:500]:
        with transaction.atomic():
            _announce(notice)
            n += 1
    return n


def subscription_create(*, email: str, area_id: int, citizen=None) -> NoticeSubscription:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except ValidationError:
        raise LivelihoodError("email: not a valid address", field="email") from None
    if facade.area_get(id=area_id) is None:
        raise LivelihoodError("area: unknown area", field="area")
    sub, _ = NoticeSubscription.objects.get_or_create(
        email=email.lower(),
        area_id=area_id,
        defaults={"token": secrets.token_urlsafe(24), "citizen": citizen if getattr(citizen, "pk", None) else None},
    )
    return sub


def notices_send_digests() -> int:
    """E-mail each subscriber the notices for their area published since their last digest."""
    from livelihood.selectors import notices_current

    now, sent = timezone.now(), 0
    for sub in NoticeSubscription.objects.all().iterator(chunk_size=500):
        since = sub.last_sent_at or sub.created_at
        new = list(notices_current(area_id=sub.area_id, at=now).filter(publish_at__gt=since)[:20])
        if not new:
            continue
        if not NoticeSubscription.objects.filter(pk=sub.pk, last_sent_at=sub.last_sent_at).update(last_sent_at=now):
            continue
        body = "\n".join(f"- {n.title}: /portal/notices/{n.id}/" for n in new)
        send_mail(_("New notices for your area"), body, settings.DEFAULT_FROM_EMAIL, [sub.email], fail_silently=True)
        sent += 1
    return sent
