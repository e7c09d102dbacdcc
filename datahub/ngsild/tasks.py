"""NGSI-LD notifications: matched in a task, each delivered in its own retried task, so a slow or dead
subscriber endpoint never blocks the writer, the ingest path or other subscribers."""

from __future__ import annotations

import json
import logging

import httpx
from celery import shared_task
from django.utils import timezone

from datahub.models import Datastream, Entity

from .models import NgsiSubscription
from .selectors import Ref, entities_visible_to, latest_for, render

log = logging.getLogger(__name__)
TIMEOUT_S = 5.0


class DeliveryFailed(Exception):
    pass


@shared_task(name="datahub.ngsild_notify", acks_late=True, soft_time_limit=120)
def ngsild_notify(entity_pks: list[int], attrs: list[str]) -> int:
    """Match changed entities against active subscriptions and queue one delivery per subscription."""
    from . import services

    now = timezone.now()
    queued = 0
    subs = NgsiSubscription.objects.filter(is_active=True).select_related("owner")
    for sub in subs:
        if sub.expires_at and sub.expires_at <= now:
            continue
        if sub.throttling and sub.last_notification and (now - sub.last_notification).total_seconds() < sub.throttling:
            continue
        # The owner sees only what their own reads would show them.
        entities = list(
            entities_visible_to(sub.owner).filter(pk__in=entity_pks).prefetch_related("device__datastreams")
        )
        latest = latest_for(entities)
        chosen = []
        for entity in entities:
            ref = Ref(entity=entity)
            if services.matches(sub, render(ref, latest=latest), attrs):
                chosen.append(ref)
        if chosen:
            body = services.notification_for(sub, chosen, now)
            ngsild_deliver.delay(sub.id, body)
            queued += 1
    return queued


@shared_task(
    name="datahub.ngsild_deliver",
    acks_late=True,
    autoretry_for=(DeliveryFailed,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=30,
)
def ngsild_deliver(sub_id: int, body: dict) -> bool:
    from . import services

    sub = NgsiSubscription.objects.filter(id=sub_id, is_active=True).first()
    if sub is None:
        return False
    endpoint = sub.notification.get("endpoint", {})
    headers = {"Content-Type": "application/json", "Accept": endpoint.get("accept", "application/json")}
    try:
        r = httpx.post(
            endpoint["uri"], content=json.dumps(body, ensure_ascii=False), headers=headers, timeout=TIMEOUT_S
        )
        ok = 200 <= r.status_code < 300
        error = "" if ok else f"HTTP {r.status_code}"
    except httpx.HTTPError as e:
        ok, error = False, f"{type(e).__name__}: {e}"
    services.subscription_record(sub_id=sub_id, ok=ok, error=error)
    if not ok:
        log.info("NGSI-LD notification to %s failed: %s", endpoint.get("uri"), error)
        raise DeliveryFailed(error)
    return True


def on_ingest_batch(rows) -> None:
    """Observation batches → notifications about their devices, only when someone subscribed to devices."""
    from . import services

    if "Device" not in services.subscribed_types():
        return
    ds_ids = {r[0] for r in rows}
    pks = list(Entity.objects.filter(device__datastreams__id__in=ds_ids).values_list("id", flat=True).distinct())
    metrics = sorted(set(Datastream.objects.filter(id__in=ds_ids).values_list("metric", flat=True)))
    if pks:
        ngsild_notify.delay(pks, metrics)


@shared_task(name="datahub.ngsild_search_index", acks_late=True, soft_time_limit=300)
def ngsild_search_index(entity_pks: list[int]) -> int:
    """Index a big batch upsert's entities for search (one index write for all of them)."""
    from django.db import transaction

    from datahub.search.providers import push_instance

    with transaction.atomic():  # pushes inside one transaction are indexed together at commit
        for pk in entity_pks:
            push_instance(Entity, pk)
    return len(entity_pks)
