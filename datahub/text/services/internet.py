"""Internet sources: registering them, scheduling their pulls with beat, running a pull as a
recorded Run, and ingesting pushed posts."""

import json
import secrets

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from datahub.core.models import Run, Source
from datahub.text.connectors import jsonapi, rss
from datahub.text.connectors.http import FetchError
from datahub.text.connectors.jsonapi import items_of, map_item
from datahub.text.models import FeedState
from datahub.text.services.documents import IngestResult, documents_ingest

PULL_CONNECTORS = {"rss": rss.pull, "json_api": jsonapi.pull}
CONNECTORS = (*PULL_CONNECTORS, "push")
FETCH_LOCK_S = 15 * 60  # a pull never runs longer than the task's soft limit (10 min) + margin


def internet_source_create(
    *,
    code: str,
    name: str,
    connector: str,
    config: dict | None = None,
    every_minutes: int | None = 30,
    owner_department_id: int | None = None,
    push_secret: str | None = None,
) -> Source:
    """Create or update an internet source; pull sources get a beat schedule, push sources a secret."""
    if connector not in CONNECTORS:
        raise ValueError(f"connector must be one of {', '.join(CONNECTORS)}, not {connector!r}")
    with transaction.atomic():
        source, _ = Source.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": Source.Kind.INTERNET,
                "connector": connector,
                "config": config or {},
                "owner_department_id": owner_department_id,
            },
        )
        if connector == "push" and (push_secret or not source.credentials.get("push_secret")):
            source.credentials = {**source.credentials, "push_secret": push_secret or secrets.token_urlsafe(32)}
            source.save(update_fields=["credentials"])
        FeedState.objects.get_or_create(source=source)
        if connector in PULL_CONNECTORS and every_minutes:
            source.schedule = source_schedule(source_id=source.id, every_minutes=every_minutes)
    return source


def source_schedule(*, source_id: int, every_minutes: int, enabled: bool = True) -> PeriodicTask:
    """One PeriodicTask per source (idempotent: named after the source)."""
    source = Source.objects.get(id=source_id)
    interval, _ = IntervalSchedule.objects.get_or_create(every=every_minutes, period=IntervalSchedule.MINUTES)
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"datahub.fetch_source:{source.code}",
        defaults={
            "task": "datahub.fetch_source",
            "interval": interval,
            "args": json.dumps([source.id]),
            "enabled": enabled and source.is_active,
        },
    )
    if source.schedule_id != task.id:
        Source.objects.filter(id=source.id).update(schedule=task)
    return task


def _finish(run: Run, result: IngestResult | None, errors: list[dict], status: str) -> Run:
    run.status = status
    run.finished_at = timezone.now()
    run.progress = 1.0
    if result is not None:
        run.rows_read, run.rows_stored, run.rows_rejected = result.read, result.stored, result.rejected
        errors = errors + result.errors[:50]
    run.errors = errors
    run.save(update_fields=["status", "finished_at", "progress", "rows_read", "rows_stored", "rows_rejected", "errors"])
    return run


def source_fetch(*, source_id: int, triggered_by_id: int | None = None) -> Run | None:
    """Pull a source once and store what is new. None when the source is inactive or a pull of it is
    already running (beat may fire again while a slow feed is still being read)."""
    source = Source.objects.get(id=source_id)
    if not source.is_active:
        return None  # deactivated after its beat job was created: nothing to pull, nothing to record
    pull = PULL_CONNECTORS.get(source.connector)
    if pull is None:
        raise ValueError(f"source {source.code} has connector {source.connector!r}, which cannot be pulled")
    lock = f"datahub:fetch:{source_id}"
    if not cache.add(lock, 1, timeout=FETCH_LOCK_S):
        return None
    try:
        state, _ = FeedState.objects.get_or_create(source=source)
        run = Run.objects.create(
            source=source, status=Run.Status.RUNNING, started_at=timezone.now(), triggered_by_id=triggered_by_id
        )
        try:
            pulled = pull(source=source, state=state)
        except FetchError as exc:
            state.consecutive_failures += 1
            state.last_error = str(exc)
            state.last_status_code = exc.status
            state.last_fetched_at = timezone.now()
            state.save()
            return _finish(run, None, [{"code": exc.code, "message": str(exc)}], Run.Status.FAILED)
        result = documents_ingest(source_id=source.id, run_id=run.id, items=pulled.items) if pulled.items else None
        state.etag, state.last_modified = pulled.etag[:500], pulled.last_modified[:100]
        state.last_status_code = pulled.status_code
        state.last_fetched_at = timezone.now()
        state.consecutive_failures, state.last_error = 0, ""
        state.save()
        result = result or IngestResult()
        status = (
            Run.Status.PARTIAL
            if (pulled.warnings and any(w["code"] != "encoding" for w in pulled.warnings)) or result.rejected
            else Run.Status.SUCCEEDED
        )
        return _finish(run, result, pulled.warnings, status)
    finally:
        cache.delete(lock)


def push_ingest(*, source: Source, payload) -> tuple[Run, IngestResult]:
    """Store posts a platform pushed (already authenticated by the caller), as one recorded run."""
    run = Run.objects.create(source=source, status=Run.Status.RUNNING, started_at=timezone.now())
    conf = source.config or {}
    if isinstance(payload, dict) and "items" in payload:
        raw = items_of(payload, "items")
    else:
        raw = items_of(payload, conf.get("items_path", ""))
    items, errors = [], []
    for i, obj in enumerate(raw, start=1):
        if isinstance(obj, dict):
            items.append(map_item(obj, conf.get("mapping") or {}))
        else:
            errors.append({"item": i, "message": f"item {i} is not a JSON object"})
    result = documents_ingest(source_id=source.id, run_id=run.id, items=items)
    result.read += len(errors)
    result.rejected += len(errors)
    result.errors = errors + result.errors
    _finish(run, result, [], Run.Status.PARTIAL if result.rejected else Run.Status.SUCCEEDED)
    return run, result
