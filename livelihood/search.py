"""Searchable items of the livelihood wing for the datahub search index (the lead wires the facade's
search_index_upsert / search_provider_register at merge; see CONTRACTS.md).

Only public things are indexed: published services and life events, active facilities, published notices
(found only between their publish and expiry dates).
Citizens' reports, bookings and ratings carry personal data and are never indexed.
"""

from collections.abc import Iterator

from django.utils import timezone

from .models import Facility, LifeEvent, Notice, PublishStatus, Service

KINDS = {
    "livelihood_service": ("办事指南", "Service guide"),
    "livelihood_life_event": ("一件事", "Life event"),
    "livelihood_facility": ("便民设施", "Facility"),
    "livelihood_notice": ("公告", "Notice"),
}


def _materials(items) -> str:
    return " ".join(m.get("name", "") if isinstance(m, dict) else str(m) for m in items or [])


def search_items(ids: dict | None = None) -> Iterator[dict]:
    """Every item (or, with ids={"livelihood_service": [1, 2], ...}, those of the given kinds and ids;
    None for every id of a kind)."""

    def wanted(kind, qs):
        if ids is None:
            return qs
        if kind not in ids:
            return qs.none()
        return qs if ids[kind] is None else qs.filter(pk__in=ids[kind])

    for s in wanted("livelihood_service", Service.objects.filter(status=PublishStatus.PUBLISHED)).iterator(2000):
        yield {
            "kind": "livelihood_service", "key": str(s.id), "title": s.name, "title_en": s.name_en,
            "body": " ".join(filter(None, [s.summary, s.conditions, _materials(s.materials)])), "body_en": "",
            "identifiers": s.code, "url": f"/portal/services/{s.code}/", "time": s.published_at, "area_id": None,
            "lon": None, "lat": None, "department_id": s.department_id, "level": "public",
            "facets": {"category": s.audience, "status": s.mode},
        }  # fmt: skip
    for le in wanted("livelihood_life_event", LifeEvent.objects.filter(status=PublishStatus.PUBLISHED)):
        yield {
            "kind": "livelihood_life_event", "key": str(le.id), "title": le.name, "title_en": le.name_en,
            "body": le.description, "body_en": "", "identifiers": le.code, "url": f"/portal/life-events/{le.code}/",
            "time": None, "area_id": None, "lon": None, "lat": None, "department_id": None, "level": "public",
            "facets": {"category": "life_event", "status": "published"},
        }  # fmt: skip
    for f in wanted("livelihood_facility", Facility.objects.filter(is_active=True)).iterator(5000):
        yield {
            "kind": "livelihood_facility", "key": str(f.id), "title": f.name, "title_en": f.name_en,
            "body": " ".join(filter(None, [f.address, " ".join(map(str, f.services or []))])), "body_en": "",
            "identifiers": f.key, "url": f"/portal/map/?facility={f.id}", "time": None, "area_id": f.area_id,
            "lon": f.point.x, "lat": f.point.y, "department_id": f.department_id, "level": "public",
            "facets": {"category": f.type, "status": "active"},
        }  # fmt: skip
    # Published notices of the city and of every area (a notice reaches its area's page through
    # area_id), scheduled ones included: the index finds a notice only between its publish and
    # expiry dates (valid_from / valid_until, checked at query time), so no reindex is needed when
    # one comes out or expires. Expired ones are left out (a reindex drops them).
    current = Notice.objects.filter(status=PublishStatus.PUBLISHED).exclude(expires_at__lte=timezone.now())
    for n in wanted("livelihood_notice", current).prefetch_related("areas"):
        areas = [a.id for a in n.areas.all()]
        yield {
            "kind": "livelihood_notice", "key": str(n.id), "title": n.title, "title_en": n.title_en,
            "body": n.body, "body_en": n.body_en, "identifiers": "", "url": f"/portal/notices/{n.id}/",
            "time": n.publish_at, "area_id": areas[0] if len(areas) == 1 else None, "lon": None, "lat": None,
            "department_id": n.department_id, "level": "public",
            "valid_from": n.publish_at, "valid_until": n.expires_at,
            "facets": {"category": "pinned" if n.pinned else "notice", "status": "published"},
        }  # fmt: skip
