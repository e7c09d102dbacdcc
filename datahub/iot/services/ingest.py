"""Observation ingest: validate, deduplicate, COPY into a staging table, then one INSERT … ON
CONFLICT into the partitioned table that also merges the rollups and the latest values.

Resend policy: **first write wins**. A reading is identified by (datastream, time); a second
reading with the same identity (a device or the MQTT bridge resending after a lost ack) is
counted as a duplicate and ignored, even if its value differs. That makes every ingest path
safe to retry (at-least-once delivery becomes exactly-once storage) and lets the rollups merge
count/sum/min/max of only the rows really inserted, so they never double count. Late and
out-of-order readings are accepted: they go to their (possibly new) monthly partition and are
added to their old minute/hour/day buckets; the latest value only moves forward in time.
"""

import csv
import io
import logging
import math
import struct
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, transaction

from datahub.iot.models import Datastream, Device, IngestBatch
from datahub.iot.services.partitions import observation_partitions_ensure

log = logging.getLogger(__name__)

# Callbacks handed every committed batch as a list of (datastream_id, time, value) tuples, time in
# epoch seconds (monitoring rules register here through the facade). They run after commit, in the ingesting
# process; an exception in one is logged and never undoes the batch.
BATCH_LISTENERS: list[Callable[[list[tuple[int, float, float]]], None]] = []


def observations_batch_listen(callback) -> None:
    """Register `callback(rows)` for each committed batch's newly stored readings (see the facade's)."""
    if callback not in BATCH_LISTENERS:
        BATCH_LISTENERS.append(callback)


# Readings further in the future than this are refused (a device clock gone wrong).
MAX_FUTURE_S = 300
# Live map updates are broadcast at most once per this many seconds per process: the MQTT
# bridge commits 5 batches/s, which browsers do not need.
BROADCAST_EVERY_S = 1.0
MAX_ERRORS_LISTED = 1000
MINUTE_ROLLUP_BELOW_S = 60

_last_broadcast = 0.0

STAGE = "datahub_obs_stage"


@dataclass
class StoreResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    batch_id: int | None = None


# COPY binary: a header, per row (3 fields: bigint, timestamptz, float8, each with its length) and
# a trailer. timestamptz travels as microseconds since 2000-01-01 UTC, so there is no text to
# format in Python nor to parse in PostgreSQL (~4x cheaper than the text format on both sides).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_COPY_ROW = struct.Struct(">hiqiqid")
_PG_EPOCH_S = 946684800.0  # 2000-01-01T00:00:00Z in Unix seconds


def _copy_binary(rows: list[tuple[int, float, float]]) -> io.BytesIO:
    """(datastream_id, epoch seconds, value) rows -> a COPY binary stream.

    The timestamp is rounded to the microsecond exactly as PostgreSQL's to_timestamp(float8)
    does (rint of (t - 2000-01-01) x 10^6), so both ways of storing a reading give the same time.
    """
    pack = _COPY_ROW.pack
    us: dict[float, int] = {}  # readings of one batch share few distinct times (one per tick)
    parts = [_COPY_HEADER]
    append = parts.append
    for d, t, v in rows:
        m = us.get(t)
        if m is None:
            m = us[t] = round((t - _PG_EPOCH_S) * 1e6)
        append(pack(3, 8, d, 8, m, 8, v))
    append(_COPY_TRAILER)
    return io.BytesIO(b"".join(parts))


def _merge_sql(tz: str, src: str) -> str:
    """Rollups (minute, hour, day) and latest values merged from the new readings in `src`.

    The readings are first reduced to one row per (datastream, minute) (`m`); hours and days are
    then folded from those few rows (an hour or a day in any time zone is made of whole minutes),
    so the costly time-zone truncation runs on ~1 row per datastream and minute, not per reading.
    The latest value is found the same way: the newest time per datastream from `m`, joined back
    to its reading (no sort of the whole batch; (datastream, time) is unique in `src`).
    Minute buckets are written only for datastreams reporting more often than once a minute: for
    slower ones a minute bucket holds one reading, the raw series already is the minute series
    (the series selector reads raw for them). ORDER BY: concurrent batches lock rollup rows in the
    same order (no deadlocks).
    """
    upsert = """ON CONFLICT (datastream_id, resolution, bucket) DO UPDATE SET
        count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
        min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max)"""
    folds = []
    for res in ("hour", "day"):
        folds.append(
            f"""r_{res} AS (
    INSERT INTO datahub_observation_rollup AS r (datastream_id, resolution, bucket, count, sum, min, max)
    SELECT datastream_id, '{res}', date_trunc('{res}', b, '{tz}') AS rb, sum(c), sum(s), min(lo), max(hi)
    FROM m GROUP BY datastream_id, rb ORDER BY datastream_id, rb
    {upsert}
)"""
        )
    return f"""
m AS MATERIALIZED (
    SELECT datastream_id, date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b, count(*) AS c, sum(value) AS s,
           min(value) AS lo, max(value) AS hi, max(time) AS last
    FROM {src} GROUP BY datastream_id, b
),
r_minute AS (
    INSERT INTO datahub_observation_rollup AS r (datastream_id, resolution, bucket, count, sum, min, max)
    SELECT datastream_id, 'minute', b, c, s, lo, hi FROM m
    WHERE datastream_id IN (SELECT s.id FROM datahub_datastream s JOIN datahub_device d ON d.id = s.device_id
                            WHERE d.expected_interval_s < {MINUTE_ROLLUP_BELOW_S})
    ORDER BY datastream_id, b
    {upsert}
),
{", ".join(folds)},
latest AS (
    INSERT INTO datahub_observation_latest AS l (datastream_id, time, value)
    SELECT n.datastream_id, n.time, n.value
    FROM {src} n JOIN (SELECT datastream_id, max(last) AS last FROM m GROUP BY datastream_id) k
         ON k.datastream_id = n.datastream_id AND k.last = n.time
    ON CONFLICT (datastream_id) DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value
    WHERE l.time < EXCLUDED.time
    RETURNING datastream_id, time, value
)"""


def _fast_sql(tz: str) -> str:
    """Every staged reading was new (the plain INSERT succeeded): merge straight from the stage."""
    return f"""WITH {_merge_sql(tz, STAGE)}
SELECT 'l', datastream_id, extract(epoch FROM time)::float8, value FROM latest"""


def _conflict_sql(tz: str, run_id: int | None) -> str:
    """Some readings were stored before (resends): insert the rest, merge only what was inserted.

    A resend keeps the run that stored the reading first (DO NOTHING): lineage is first-write-wins too.
    """
    run_sql = str(int(run_id)) if run_id is not None else "NULL::bigint"
    return f"""WITH ins AS (
    INSERT INTO datahub_observation (datastream_id, time, value, run_id)
    SELECT datastream_id, time, value, {run_sql} FROM {STAGE}
    ON CONFLICT (datastream_id, time) DO NOTHING
    RETURNING datastream_id, time, value
), {_merge_sql(tz, "ins")}
SELECT 'r', datastream_id, extract(epoch FROM time)::float8, value FROM ins
UNION ALL SELECT 'l', datastream_id, extract(epoch FROM time)::float8, value FROM latest"""


class BackfillRows(list):
    """The rows handed to batch listeners when the batch is a backfill by definition (a file
    import): listeners test `getattr(rows, "backfill", False)`."""

    backfill = True


def is_live(*, channel: str, t_max: float | None, now: float | None = None) -> bool:
    """Whether a batch is live traffic, for the monitor's lag: not a file import (backfills by
    definition) and its newest reading within the live horizon (MONITORING_LIVE_HORIZON_S).
    (The rules judge each reading against their own horizon: monitoring.evaluate._evaluate.)"""
    if channel == IngestBatch.Channel.IMPORT or t_max is None:
        return False
    return t_max >= (now or _time.time()) - settings.MONITORING_LIVE_HORIZON_S


def observations_store(
    *,
    rows: list[tuple[int, float, float]],
    channel: str = IngestBatch.Channel.OTHER,
    received: int | None = None,
    rejected: int = 0,
    errors: list[dict] | None = None,
    touch_devices: bool = True,
    source_id: int | None = None,
    run_id: int | None = None,
) -> StoreResult:
    """Store validated (datastream_id, epoch seconds, value) rows; idempotent (first write wins).

    Rows must be unique by (datastream_id, time) within the call (readings_validate ensures it).
    `run_id` (lineage) is stamped on every row stored; `source_id` and `run_id` go on the IngestBatch.

    One transaction per call: the observations, their rollups, the latest values, the devices'
    last-seen time and the monitor's IngestBatch row commit together or not at all.

    The batch is COPYed (binary) into a temporary stage, then moved with one plain INSERT …
    SELECT inside a savepoint: fresh data, the usual case, takes this bulk path and the rollups
    are merged straight from the stage. A batch holding a resend violates the primary key; the
    savepoint is rolled back and the batch takes INSERT … ON CONFLICT DO NOTHING, merging only
    the rows really inserted (so resends never double count).
    """
    started = _time.perf_counter()
    t_max = None
    result = StoreResult(received=len(rows) if received is None else received, rejected=rejected)
    result.errors = (errors or [])[:MAX_ERRORS_LISTED]
    if rows:
        t_min = min(r[1] for r in rows)
        t_max = max(r[1] for r in rows)
        observation_partitions_ensure(start=datetime.fromtimestamp(t_min, UTC), end=datetime.fromtimestamp(t_max, UTC))
        buf = _copy_binary(rows)
    tz = settings.TIME_ZONE
    backfill = channel == IngestBatch.Channel.IMPORT
    run_sql = "NULL::bigint" if run_id is None else str(int(run_id))
    for attempt in range(3):
        try:
            with transaction.atomic():
                committed_rows, latest = rows, []
                if rows:
                    with connection.cursor() as cur:
                        # The hash aggregates and the join over ~50k staged rows stay in memory.
                        cur.execute("SET LOCAL work_mem = '64MB'")
                        cur.execute(
                            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (datastream_id bigint, time timestamptz,"
                            " value double precision) ON COMMIT DELETE ROWS"
                        )
                        cur.execute(f"TRUNCATE {STAGE}")
                        buf.seek(0)
                        cur.cursor.copy_expert(f"COPY {STAGE} FROM STDIN WITH (FORMAT binary)", buf)
                        sid = transaction.savepoint()
                        try:
                            cur.execute(
                                "INSERT INTO datahub_observation (datastream_id, time, value, run_id)"
                                f" SELECT datastream_id, time, value, {run_sql} FROM {STAGE}"
                            )
                        except IntegrityError:
                            transaction.savepoint_rollback(sid)
                            cur.execute(_conflict_sql(tz, run_id))
                            committed_rows = []
                            for kind, a, b, c in cur.fetchall():
                                if kind == "r":
                                    committed_rows.append((int(a), b, c))
                                else:
                                    latest.append((int(a), b, c))
                        else:
                            transaction.savepoint_commit(sid)
                            cur.execute(_fast_sql(tz))
                            latest = [(int(a), b, c) for _k, a, b, c in cur.fetchall()]
                        if touch_devices:
                            # Only rows older than half the device's reporting interval (at
                            # least a second) are rewritten: the online status allows three
                            # intervals, and a fleet reporting through many small batches would
                            # otherwise rewrite every device row at every batch.
                            cur.execute(
                                "UPDATE datahub_device d SET last_seen_at = now() WHERE d.id IN ("
                                f"  SELECT DISTINCT s.device_id FROM datahub_datastream s JOIN (SELECT DISTINCT datastream_id FROM {STAGE}) g"
                                "   ON g.datastream_id = s.id)"
                                " AND (d.last_seen_at IS NULL"
                                "      OR d.last_seen_at < now() - make_interval(secs => greatest(1, d.expected_interval_s / 2.0)))"
                            )
                        cur.execute(f"TRUNCATE {STAGE}")
                    result.stored = len(committed_rows)
                    result.duplicates = len(rows) - result.stored
                batch = IngestBatch.objects.create(
                    channel=channel,
                    received=result.received,
                    stored=result.stored,
                    duplicates=result.duplicates,
                    rejected=result.rejected,
                    duration_ms=(_time.perf_counter() - started) * 1000,
                    # Lag is a figure of live traffic: a backfill's readings are old on purpose.
                    lag_s=max(0.0, _time.time() - t_max) if is_live(channel=channel, t_max=t_max) else None,
                    errors=result.errors[:20],
                    source_id=source_id,
                    run_id=run_id,
                )
                result.batch_id = batch.id
                if committed_rows or latest:
                    if backfill:
                        committed_rows = BackfillRows(committed_rows)
                    transaction.on_commit(lambda rows=committed_rows, lt=latest: _after_commit(rows, lt))
            return result
        except OperationalError as exc:  # deadlock with a concurrent batch: retry the whole batch
            if "deadlock" not in str(exc) or attempt == 2:
                raise
            log.warning("ingest batch deadlocked, retrying (attempt %s)", attempt + 2)
    return result


def _after_commit(committed_rows: list, latest: list) -> None:
    for listener in list(BATCH_LISTENERS):
        try:
            listener(committed_rows)
        except Exception:  # a monitoring bug must not break ingestion
            log.exception("observations_batch_committed listener %r failed", listener)
    _broadcast_latest(latest)


def _broadcast_latest(latest: list) -> None:
    global _last_broadcast
    now = _time.monotonic()
    if not latest or now - _last_broadcast < BROADCAST_EVERY_S:
        return
    _last_broadcast = now
    try:
        from cityos.realtime import publish_broadcast

        data = {str(d): [datetime.fromtimestamp(t, UTC).isoformat(), v] for d, t, v in latest[:2000]}
        publish_broadcast("datahub.observations", {"latest": data})
    except Exception:  # the live map is best effort; the data is committed
        log.warning("live broadcast of latest values failed", exc_info=True)


# --- validation of untrusted readings ------------------------------------------------------------


# Every change to devices or datastreams increments this Redis counter after commit; each
# resolver (the HTTP ingest's in every web process, every MQTT bridge) compares it at most every
# REGISTRY_CHECK_S (one GET, ~0.1 ms) and starts afresh when it moved: a new datastream, a new
# valid range, a device switched off or deleted is seen everywhere within about a second.
REGISTRY_VERSION_KEY = "datahub:iot:registry-version"
REGISTRY_CHECK_S = 1.0
# Without Redis the counter cannot be read: resolvers then start afresh at least this often.
RESOLVER_MAX_AGE_S = 30.0


def registry_version() -> int | None:
    try:
        return cache.get(REGISTRY_VERSION_KEY)
    except Exception:  # Redis down: the resolvers fall back to RESOLVER_MAX_AGE_S
        return None


def registry_version_bump() -> None:
    try:
        try:
            cache.incr(REGISTRY_VERSION_KEY)
        except ValueError:  # no counter yet (or the cache was cleared)
            cache.set(REGISTRY_VERSION_KEY, 1, timeout=None)
    except Exception:  # Redis down: resolvers still renew every RESOLVER_MAX_AGE_S
        log.warning("could not announce a device registry change", exc_info=True)


def on_commit_once(func: Callable[[], None]) -> None:
    """transaction.on_commit(func), unless func is already queued for this transaction (a CSV
    of 1,000 devices queues it once). A rolled-back transaction drops it, so the next one
    queues it again."""
    conn = transaction.get_connection()
    if conn.in_atomic_block and any(entry[1] is func for entry in conn.run_on_commit):
        return
    transaction.on_commit(func)


def registry_changed_on_commit() -> None:
    """Announce a device/datastream change once the transaction commits."""
    on_commit_once(registry_version_bump)


class DatastreamResolver:
    """Maps (device key, metric) and datastream ids to (id, valid_min, valid_max), for active
    devices only.

    The MQTT bridge keeps one for its lifetime. It starts afresh within `check_s` of a change
    to any device or datastream (the registry version above) and at least every `max_age_s`; an
    unknown key is looked up again at most every `miss_ttl_s` seconds.
    """

    def __init__(
        self, *, miss_ttl_s: float = 30.0, check_s: float = REGISTRY_CHECK_S, max_age_s: float = RESOLVER_MAX_AGE_S
    ):
        self.miss_ttl_s, self.check_s, self.max_age_s = miss_ttl_s, check_s, max_age_s
        self._version: object = self
        self._checked = -1e9
        self.clear()

    def clear(self) -> None:
        self.by_key: dict[tuple[str, str], tuple[int, float | None, float | None]] = {}
        self.by_id: dict[int, tuple[int, float | None, float | None, int]] = {}
        self.device_ids: dict[str, int] = {}
        self._missed: dict[str, float] = {}
        self._born = _time.monotonic()

    def refresh(self) -> None:
        """Start afresh if the registry changed since the last look (at most every check_s)."""
        now = _time.monotonic()
        if now - self._checked < self.check_s:
            return
        self._checked = now
        version = registry_version()  # read before loading: a change after it moves it again
        if version != self._version or now - self._born > self.max_age_s:
            self.clear()
            self._version = version

    def load(self, *, device_keys: Iterable[str] = (), ids: Iterable[int] = ()) -> None:
        self.refresh()
        now = _time.monotonic()
        keys = {
            k for k in device_keys if k not in self.device_ids and now - self._missed.get(k, -1e9) > self.miss_ttl_s
        }
        id_set = {i for i in ids if i not in self.by_id}
        if not keys and not id_set:
            return
        qs = Datastream.objects.filter(device__is_active=True).select_related(None)
        from django.db.models import Q

        cond = Q()
        if keys:
            cond |= Q(device__key__in=keys)
        if id_set:
            cond |= Q(id__in=id_set)
        found_keys = set()
        for ds_id, key, dev_id, metric, lo, hi in qs.filter(cond).values_list(
            "id", "device__key", "device_id", "metric", "valid_min", "valid_max"
        ):
            self.by_key[(key, metric)] = (ds_id, lo, hi)
            self.by_id[ds_id] = (ds_id, lo, hi, dev_id)
            self.device_ids[key] = dev_id
            found_keys.add(key)
        for k in keys - found_keys:
            self._missed[k] = now


# The web process's resolver, shared by its requests: a batch over 1,000 datastreams would
# otherwise spend ~15 ms looking them up. It follows the registry version like the bridge's.
_shared: list = [None]


def shared_resolver() -> DatastreamResolver:
    if _shared[0] is None:
        _shared[0] = DatastreamResolver()
    return _shared[0]


def shared_resolver_reset(**_kwargs) -> None:
    """post_save/post_delete of Device and Datastream: this process at once, the others (and
    the MQTT bridges) through the registry version after commit."""
    _shared[0] = None
    registry_changed_on_commit()


_time_memo: dict[str, float] = {}


def parse_time(value) -> float:
    """ISO 8601 with a UTC offset, or epoch seconds (milliseconds when > 1e11). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("time must be an ISO 8601 string or epoch seconds")
    if isinstance(value, int | float):
        try:
            t = float(value)
        except OverflowError:
            raise ValueError("time is out of range") from None
        if t > 1e11:
            t /= 1000.0
    elif isinstance(value, str):
        cached = _time_memo.get(value)
        if cached is not None:
            return cached
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                return parse_time(float(value))
            except ValueError:
                raise ValueError(f"time {value[:40]!r} is not ISO 8601") from None
        if dt.tzinfo is None:
            raise ValueError("time must include a UTC offset (e.g. +08:00 or Z)")
        t = dt.timestamp()
        if t < 0:
            raise ValueError("time is out of range")
        # Only valid times are remembered: the validation fast path trusts a hit.
        if len(_time_memo) > 100_000:
            _time_memo.clear()
        _time_memo[value] = t
        return t
    else:
        raise ValueError("time must be an ISO 8601 string or epoch seconds")
    if not math.isfinite(t) or t < 0:
        raise ValueError("time is out of range")
    return t


def _parse_value(value) -> float:
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("value must be a number")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError("value out of range") from None
    except (TypeError, ValueError):
        raise ValueError(f"value {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError("value must be finite")
    return v


def readings_validate(
    *, records: list, resolver: DatastreamResolver, device: Device | None = None, now: float | None = None
) -> tuple[list[tuple[int, float, float]], list[dict]]:
    """Untrusted reading dicts -> (valid rows, errors [{index, field, reason}]).

    A reading names its datastream by id (`datastream`) or by `device` key + `metric`; with a
    device credential `device` may be omitted and must otherwise be that device. `time` (or
    `ts`) and `value` are required. Duplicates inside one batch keep the first (policy above).

    The loop has a fast path for the well-formed reading (known datastream, numeric or already
    seen ISO time, finite number in range): a few dict lookups and type checks, ~0.5 µs. Anything
    else goes through `_reading_check`, which finds the reason; both give the same verdict.
    """
    now = _time.time() if now is None else now
    latest_ok = now + MAX_FUTURE_S
    if device is None:
        keys, ids = set(), set()
        for r in records:
            if type(r) is dict:
                d = r.get("datastream")
                if type(d) is int:
                    ids.add(d)
                elif d is not None:
                    try:
                        ids.add(int(d))
                    except (TypeError, ValueError, OverflowError):
                        pass
                else:
                    k = r.get("device")
                    if type(k) is str:
                        keys.add(k)
        resolver.load(device_keys=keys, ids=ids)
    else:
        resolver.load(device_keys=[device.key])
    rows: list[tuple[int, float, float]] = []
    errors: list[dict] = []
    seen: set[tuple[int, float]] = set()
    append, seen_add = rows.append, seen.add
    dev_key = device.key if device else None
    dev_id = device.id if device else None
    by_key, by_id, memo = resolver.by_key, resolver.by_id, _time_memo
    isfinite = math.isfinite
    for i, r in enumerate(records):
        if type(r) is dict:
            # --- fast path -----------------------------------------------------------------
            d = r.get("datastream")
            if d is not None:
                ds = by_id.get(d) if type(d) is int else None
                if ds is not None and dev_id is not None and ds[3] != dev_id:
                    ds = None
            else:
                k, m = r.get("device") or dev_key, r.get("metric")
                ds = by_key.get((k, m)) if type(k) is str and type(m) is str else None
                if ds is not None and dev_key is not None and k != dev_key:
                    ds = None
            if ds is not None:
                t = r.get("time", r.get("ts"))
                tt = type(t)
                if tt is float or tt is int:
                    # Milliseconds, negative, huge or not finite: the slow path decides.
                    t = float(t) if 0 <= t <= 100_000_000_000 else None
                elif tt is str:
                    t = memo.get(t)
                else:
                    t = None
                v = r.get("value")
                tv = type(v)
                if t is not None and t <= latest_ok and (tv is float or (tv is int and -(2**63) <= v < 2**63)):
                    v = float(v)
                    lo, hi = ds[1], ds[2]
                    if isfinite(v) and (lo is None or v >= lo) and (hi is None or v <= hi):
                        ident = (ds[0], t)
                        if ident not in seen:
                            seen_add(ident)
                            append((ds[0], t, v))
                        continue
        elif r is UNPARSED:
            continue
        # --- slow path: the same checks one by one, to name the reason ------------------------
        row, error = _reading_check(i, r, resolver, device, latest_ok)
        if error is not None:
            errors.append(error)
        elif (row[0], row[1]) not in seen:
            seen_add((row[0], row[1]))
            append(row)
    return rows, errors


def _reading_check(
    i: int, r, resolver: DatastreamResolver, device: Device | None, latest_ok: float
) -> tuple[tuple[int, float, float] | None, dict | None]:
    """One reading checked field by field -> (row, None) or (None, {index, field, reason})."""
    if not isinstance(r, dict):
        return None, {"index": i, "field": None, "reason": "reading must be an object"}
    dev_key = device.key if device else None
    if r.get("datastream") not in (None, ""):
        try:
            ds = resolver.by_id.get(int(r["datastream"]))
        except (TypeError, ValueError):
            return None, {"index": i, "field": "datastream", "reason": "datastream must be an integer id"}
        if ds is None or (device is not None and ds[3] != device.id):
            return None, {"index": i, "field": "datastream", "reason": f"unknown datastream {r['datastream']}"}
    else:
        key = r.get("device") or dev_key
        if not key:
            return None, {"index": i, "field": "device", "reason": "device (key) or datastream is required"}
        if dev_key and key != dev_key:
            return None, {"index": i, "field": "device", "reason": "the credential is for another device"}
        metric = r.get("metric")
        if not metric:
            return None, {"index": i, "field": "metric", "reason": "metric is required"}
        ds = resolver.by_key.get((key, metric)) if isinstance(key, str) and isinstance(metric, str) else None
        if ds is None:
            field_ = "metric" if isinstance(key, str) and key in resolver.device_ids else "device"
            what = f"unknown metric {metric!r} for device {key}" if field_ == "metric" else f"unknown device {key!r}"
            return None, {"index": i, "field": field_, "reason": what}
    raw_t = r.get("time", r.get("ts"))
    if raw_t in (None, ""):
        return None, {"index": i, "field": "time", "reason": "time is required"}
    try:
        t = parse_time(raw_t)
    except ValueError as exc:
        return None, {"index": i, "field": "time", "reason": str(exc)}
    if t > latest_ok:
        return None, {"index": i, "field": "time", "reason": "time is in the future"}
    try:
        v = _parse_value(r.get("value"))
    except ValueError as exc:
        return None, {"index": i, "field": "value", "reason": str(exc)}
    ds_id, lo, hi = ds[0], ds[1], ds[2]
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        return None, {"index": i, "field": "value", "reason": f"value {v} outside the valid range [{lo}, {hi}]"}
    return (ds_id, t, v), None


def observations_ingest(
    *,
    records: list,
    device: Device | None = None,
    channel: str = IngestBatch.Channel.HTTP,
    resolver: DatastreamResolver | None = None,
    parse_errors: list[dict] | None = None,
    source_id: int | None = None,
    run_id: int | None = None,
    writable: Callable[[set[int]], set[int]] | None = None,
) -> StoreResult:
    """Validate and store untrusted readings; the bad ones come back with their reasons.

    `writable` (a user's API token): given the datastream ids of the valid readings, returns those
    the user may write into; the others are refused reading by reading ("not permitted"). None: no
    restriction (a device credential is already limited to its own device; the system itself).
    """
    resolver = resolver or shared_resolver()
    rows, errors = readings_validate(records=records, resolver=resolver, device=device)
    if writable is not None and rows:
        ids = {r[0] for r in rows}
        refused = ids - writable(ids)
        if refused:
            rows = [r for r in rows if r[0] not in refused]
            errors += _refused_errors(records, resolver, refused)
    errors = sorted((parse_errors or []) + errors, key=lambda e: e["index"])
    received = len(records)
    result = observations_store(
        rows=rows,
        channel=channel,
        received=received,
        rejected=len(errors),
        errors=errors,
        source_id=source_id,
        run_id=run_id,
    )
    # Duplicates inside the batch were dropped before the store: count them too.
    result.duplicates = received - len(errors) - result.stored
    result.errors = errors[:MAX_ERRORS_LISTED]
    return result


def _refused_errors(records: list, resolver: DatastreamResolver, refused: set[int]) -> list[dict]:
    """One error per reading (by index) that names a datastream the writer may not write into."""
    out = []
    for i, r in enumerate(records):
        if type(r) is not dict:
            continue
        d = r.get("datastream")
        if d not in (None, ""):
            try:
                ds = resolver.by_id.get(int(d))
            except (TypeError, ValueError, OverflowError):
                continue
        else:
            k, m = r.get("device"), r.get("metric")
            ds = resolver.by_key.get((k, m)) if type(k) is str and type(m) is str else None
        if ds is not None and ds[0] in refused:
            out.append(
                {
                    "index": i,
                    "field": "datastream",
                    "reason": f"not permitted: datastream {ds[0]} belongs to a device you do not manage",
                }
            )
    return out


# --- body formats -------------------------------------------------------------------------------


class BodyError(ValueError):
    pass


UNPARSED = object()  # an NDJSON line that was not JSON (already listed as an error)


def parse_body(*, body: bytes, content_type: str) -> tuple[list, list[dict]]:
    """JSON array (or {"readings": [...]}), NDJSON or CSV -> (records, per-line parse errors)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not UTF-8 (byte {exc.start})") from None
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-lines"):
        records, errors = [], []
        for lineno, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                # A placeholder keeps later readings' indexes equal to their position.
                errors.append(
                    {"index": len(records), "field": None, "reason": f"line {lineno + 1}: invalid JSON ({exc.msg})"}
                )
                records.append(UNPARSED)
        return records, errors
    if ctype in ("text/csv", "application/csv"):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise BodyError("CSV body has no header row")
        has_id = "datastream" in reader.fieldnames
        if "value" not in reader.fieldnames or not ({"time", "ts"} & set(reader.fieldnames)):
            raise BodyError("CSV header must have the columns time and value (and datastream, or device and metric)")
        if not has_id and "metric" not in reader.fieldnames:
            raise BodyError("CSV header must have a datastream column, or a metric column (and device)")
        return list(reader), []
    if ctype in ("application/json", ""):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("readings"), list):
            data = data["readings"]
        if not isinstance(data, list):
            raise BodyError("JSON body must be an array of readings")
        return data, []
    raise BodyError(f"unsupported content type {ctype!r}: use application/json, application/x-ndjson or text/csv")


def observation_rollups_rebuild(*, datastream_ids: list[int]) -> int:
    """Recompute every rollup of these datastreams from the raw observations (repair, or after a
    bulk load that bypassed the ingest path, e.g. a raw COPY). Returns the rollup rows written."""
    tz = settings.TIME_ZONE
    written = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM datahub_observation_rollup WHERE datastream_id = ANY(%s)", [datastream_ids])
        for res, trunc in (
            ("minute", "date_trunc('minute', o.time)"),
            ("hour", f"date_trunc('hour', o.time, '{tz}')"),
            ("day", f"date_trunc('day', o.time, '{tz}')"),
        ):
            only_fast = f"AND d.expected_interval_s < {MINUTE_ROLLUP_BELOW_S}" if res == "minute" else ""
            cur.execute(
                f"""INSERT INTO datahub_observation_rollup (datastream_id, resolution, bucket, count, sum, min, max)
                SELECT o.datastream_id, '{res}', {trunc} AS b, count(*), sum(o.value), min(o.value), max(o.value)
                FROM datahub_observation o JOIN datahub_datastream s ON s.id = o.datastream_id
                JOIN datahub_device d ON d.id = s.device_id
                WHERE o.datastream_id = ANY(%s) {only_fast} GROUP BY o.datastream_id, b""",
                [datastream_ids],
            )
            written += cur.rowcount
    return written
