"""Wiring between the observation store (IoT ingest) and the rule engine.

- `on_ingest_batch` is registered with `facade.observations_batch_listen`: each committed ingest
  batch (HTTP, MQTT bridge, file import) is described with its datastreams' metric, device type,
  area and subject and handed to `evaluate.on_observations`, so rules are evaluated as data
  arrives instead of by polling whole tables.
- `read_series` is the observation-store reader for rule previews (7-day replay).

Datastream descriptions are cached in-process (one query per batch for unseen datastreams);
a device moved to another area is seen after `DESCRIBE_TTL_S`.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection

from datahub.iot.models import Datastream
from datahub.monitoring.services.evaluate import on_series
from datahub.monitoring.services.rules import key, redis_client, rule_index

log = logging.getLogger(__name__)

DESCRIBE_TTL_S = 60
# A preview replays at most this many datastreams' raw readings (7 days at 1/min ≈ 10k rows each).
PREVIEW_MAX_DATASTREAMS = 200

_described: dict[int, tuple[float, dict]] = {}


def _describe(ids: set[int]) -> dict[int, dict]:
    now = time.monotonic()
    missing = {i for i in ids if i not in _described or now - _described[i][0] > DESCRIBE_TTL_S}
    if missing:
        rows = Datastream.objects.filter(id__in=missing).values_list(
            "id", "metric", "device__device_type", "device__area_id", "device__entity_id"
        )
        for ds_id, metric, device_type, area_id, entity_id in rows:
            _described[ds_id] = (
                now,
                {
                    "datastream_id": ds_id,
                    "metric": metric,
                    "device_type": device_type,
                    "area_id": area_id,
                    "subject_id": entity_id,
                },
            )
    return {i: _described[i][1] for i in ids if i in _described}


def describe_reset() -> None:
    _described.clear()


def on_ingest_batch(rows: list[tuple[int, float, float]], *, backfill: bool | None = None) -> int:
    """Evaluate rules over newly stored readings [(datastream_id, epoch seconds, value)]; returns transitions.

    Readings are grouped by datastream first and routed once per datastream: a datastream no rule
    can touch (its metric, type, area and subject match no rule) is dropped as a whole, so on a
    city where most sensors have no rule the cost per reading of those is one dict append.
    """
    if not rows:
        return 0
    index = rule_index()
    if not index.metrics:
        return 0
    per_ds: dict[int, list] = {}
    for r in rows:
        got = per_ds.get(r[0])
        if got is None:
            per_ds[r[0]] = [r]
        else:
            got.append(r)
    meta = _describe(set(per_ds))
    if backfill is None:
        backfill = bool(getattr(rows, "backfill", False))  # iot_ingest.BackfillRows
    return on_series([(meta[ds], readings) for ds, readings in per_ds.items() if ds in meta], backfill=backfill)


# --- evaluation beside the ingest (a background thread per process) ----------------------------
#
# With MONITORING_EVALUATE_IN_BACKGROUND (the default outside tests) a committed batch is queued
# for a thread of the ingesting process instead of being evaluated before the HTTP response (or
# the MQTT acknowledgement) goes out. Batches are evaluated one at a time in commit order, so a
# datastream's readings still reach the rules in time order, and the evaluation of one batch
# overlaps the database work of the next (the web process would otherwise idle while PostgreSQL
# stores it). The queue is bounded: when evaluation falls behind, ingest waits for it instead of
# growing memory. At exit the queue is drained (`evaluation_drain`, registered with atexit); a
# process killed outright loses the evaluation of its last few batches (the readings are stored,
# and a heartbeat rule's beat check does not depend on it).

_QUEUE_MAX = 8
_queue: queue.Queue | None = None
_thread: threading.Thread | None = None
_thread_pid = 0  # a forked child (Celery prefork) must start its own thread
_lock = threading.Lock()


def on_ingest_batch_listener(rows: list[tuple[int, float, float]]) -> None:
    """The ingest listener: evaluate now, or queue for this process's evaluation thread."""
    if not getattr(settings, "MONITORING_EVALUATE_IN_BACKGROUND", False):
        _evaluate_counted(rows)
        return
    _ensure_thread().put(rows)


def _evaluate_counted(rows: list) -> None:
    try:
        on_ingest_batch(rows, backfill=bool(getattr(rows, "backfill", False)))
    finally:
        # Readings evaluated so far, all processes together (one INCRBY per batch): with the
        # readings stored it tells how far evaluation lags behind ingest (and the benchmark waits
        # on it, so that its ingest figure includes evaluation).
        try:
            redis_client().incrby(evaluated_key(), len(rows))
        except Exception:
            log.warning("could not count evaluated readings", exc_info=True)


def evaluated_key() -> str:
    """Redis key of the count of readings evaluated so far (all processes)."""
    return key("evaluated_readings")


def _ensure_thread() -> queue.Queue:
    global _queue, _thread
    with _lock:
        if _thread is None or not _thread.is_alive() or _thread_pid != os.getpid():
            _start()
        return _queue


def _start() -> None:
    global _queue, _thread, _thread_pid
    _queue = queue.Queue(maxsize=_QUEUE_MAX)
    _thread_pid = os.getpid()
    _thread = threading.Thread(target=_run, args=(_queue,), name="cityos-rule-evaluation", daemon=True)
    _thread.start()
    atexit.register(evaluation_drain)


def _run(q: queue.Queue) -> None:
    while True:
        rows = q.get()
        try:
            _evaluate_counted(rows)
        except Exception:  # a monitoring bug must not stop the evaluation of later batches
            log.exception("rule evaluation of an ingest batch failed")
        finally:
            # This long-lived thread keeps its connection (even under ASGI, where request
            # threads do not); only a broken one is dropped.
            if connection.errors_occurred or (connection.connection is not None and not connection.is_usable()):
                connection.close()
            q.task_done()


def evaluation_drain(timeout: float = 10.0) -> bool:
    """Wait until every queued batch of this process is evaluated; False on timeout."""
    q = _queue
    if q is None or _thread_pid != os.getpid():
        return True
    deadline = time.monotonic() + timeout
    while q.unfinished_tasks:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def read_series(scope: dict, since: datetime, until: datetime) -> Iterable[dict]:
    """Raw readings in [since, until) of the datastreams a rule's scope covers, in time order."""
    qs = Datastream.objects.all()
    if scope.get("datastream_id"):
        qs = qs.filter(id=scope["datastream_id"])
    metrics = scope.get("metrics") or ([scope["metric"]] if scope.get("metric") else None)
    if metrics:
        qs = qs.filter(metric__in=metrics)
    if scope.get("device_type"):
        qs = qs.filter(device__device_type=scope["device_type"])
    if scope.get("area_ids") is not None:
        qs = qs.filter(device__area_id__in=scope["area_ids"])
    if scope.get("subject_id"):
        qs = qs.filter(device__entity_id=scope["subject_id"])
    ids = list(qs.order_by("id").values_list("id", flat=True)[:PREVIEW_MAX_DATASTREAMS])
    if not ids:
        return []
    meta = _describe(set(ids))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT datastream_id, time, value FROM datahub_observation"
            " WHERE datastream_id = ANY(%s) AND time >= %s AND time < %s ORDER BY time, datastream_id",
            [ids, since, until],
        )
        return [{**meta[ds], "time": t, "value": v} for ds, t, v in cur.fetchall() if v is not None]
