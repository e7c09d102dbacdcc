"""API keys of the open platform: issue, check, scope, quota and meter.

    Authorization: Api-Key cos_<prefix>_<secret>

- **Issue**: `api_key_create` returns the full key once; only SHA-256(secret) is stored.
- **Check**: `api_key_check` finds the key by prefix (an in-process cache of 5 s, so a revoked key
  stops working within 5 s in every web process) and compares the hash in constant time.
- **Scope**: every API path belongs to a family; reads need `<family>:read`, writes `<family>:write`
  (`SCOPE_FAMILIES`). A view may name its own (`required_scope` attribute).
- **Quota**: a per-second burst, a per-minute rate and a per-day volume, each a GCRA (generic
  cell rate algorithm) held in Redis and updated by one Lua script, so the limits hold across every
  web process and a request refused by one limit consumes none of the others. Minute and day limits
  allow a burst of only 4% of the limit, so overload never doubles the accepted rate.
- **Meter**: counted in the process and sent in batches (a background thread, every 50 ms) into
  a per-day Redis hash (key | endpoint | status), off the request's path; a beat job
  (`cityos.api_usage_flush`) moves the counts into `ApiUsage` rows. No database write per request.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cityos.models import ApiApplication, ApiKey, ApiUsage

logger = logging.getLogger(__name__)

KEY_PREFIX = "cos_"
CACHE_SECONDS = 5.0
# (path prefix, scope family). The first match wins; anything else under /api/v1/ is refused to keys.
SCOPE_FAMILIES: list[tuple[str, str]] = [
    ("/api/v1/auth/me", "account"),
    ("/api/v1/datahub/datasets/", "datasets"),
    ("/api/v1/datahub/dataset-imports/", "datasets"),
    ("/api/v1/datahub/observations/", "iot"),
    ("/api/v1/datahub/devices/", "iot"),
    ("/api/v1/datahub/datastreams/", "iot"),
    ("/api/v1/datahub/ingest-batches/", "iot"),
    ("/api/v1/datahub/series-imports/", "iot"),
    ("/api/v1/datahub/alert-rules/", "alerts"),
    ("/api/v1/datahub/alerts/", "alerts"),
    ("/api/v1/datahub/alert-preferences/", "alerts"),
    ("/api/v1/datahub/webhooks/", "alerts"),
    ("/api/v1/datahub/webhook-deliveries/", "alerts"),
    ("/api/v1/datahub/documents/", "text"),
    ("/api/v1/datahub/opinion/", "text"),
    ("/api/v1/datahub/internet-sources/", "text"),
    ("/api/v1/datahub/events/", "events"),
    ("/api/v1/datahub/", "registry"),  # departments, areas, sources, runs, entities
    ("/api/v1/governance/", "cases"),
    ("/api/v1/industry/", "industry"),
    ("/api/v1/livelihood/", "livelihood"),
    ("/api/v1/search/", "search"),
    ("/api/v1/analysis/", "analysis"),
    ("/ngsi-ld/v1/", "ngsi-ld"),
]
# Datasets' rows have their own scope: reading a dataset's records is not reading its description.
RECORDS_PATHS = ("/records/", "/export/")
ALL_SCOPES = sorted(
    {f"{family}:{verb}" for _p, family in SCOPE_FAMILIES for verb in ("read", "write")}
    | {"records:read", "events:subscribe"}
)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class KeyError_(Exception):
    """A refused key: `code` (stable), `status` (401/403/429) and a message naming the problem."""

    def __init__(self, code: str, message: str, status: int = 401, headers: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.headers = code, message, status, headers or {}


@dataclass(frozen=True)
class KeyInfo:
    id: int
    prefix: str
    secret_hash: str
    scopes: frozenset
    ip_allowlist: tuple
    expires_at: datetime | None
    revoked: bool
    approved: bool
    owner_id: int
    access_level: str
    application_id: int
    per_second: int
    per_minute: int
    per_day: int


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *,
    application: ApiApplication,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    ip_allowlist: list[str] | None = None,
    created_by=None,
) -> tuple[ApiKey, str]:
    """A new key and its full text (shown once). Unknown scopes and malformed networks are refused."""
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"scopes: unknown scope(s) {', '.join(unknown)}")
    for net in ip_allowlist or []:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ValueError(f"ip_allowlist: {net!r} is not an IP address or network") from None
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        application=application,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        ip_allowlist=list(ip_allowlist or []),
        created_by=created_by,
    )
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def api_key_revoke(*, key: ApiKey) -> None:
    ApiKey.objects.filter(id=key.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    _cache.pop(key.prefix, None)


# --- checking -----------------------------------------------------------------------------------------

_cache: dict[str, tuple[float, KeyInfo | None]] = {}


def _load(prefix: str) -> KeyInfo | None:
    hit = _cache.get(prefix)
    now = time.monotonic()
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    row = (
        ApiKey.objects.filter(prefix=prefix)
        .values(
            "id",
            "secret_hash",
            "scopes",
            "ip_allowlist",
            "expires_at",
            "revoked_at",
            "application__organisation__is_approved",
            "application__owner_id",
            "application_id",
            "application__access_level",
            "application__plan__per_second",
            "application__plan__per_minute",
            "application__plan__per_day",
        )
        .first()
    )
    info = None
    if row:
        info = KeyInfo(
            id=row["id"],
            prefix=prefix,
            secret_hash=row["secret_hash"],
            scopes=frozenset(row["scopes"] or []),
            ip_allowlist=tuple(ipaddress.ip_network(n, strict=False) for n in row["ip_allowlist"] or []),
            expires_at=row["expires_at"],
            revoked=row["revoked_at"] is not None,
            approved=row["application__organisation__is_approved"],
            owner_id=row["application__owner_id"],
            access_level=row["application__access_level"],
            application_id=row["application_id"],
            per_second=row["application__plan__per_second"],
            per_minute=row["application__plan__per_minute"],
            per_day=row["application__plan__per_day"],
        )
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[prefix] = (now, info)
    return info


def api_key_check(raw: str, *, remote_ip: str) -> KeyInfo:
    """The key's facts, or KeyError_ with a clear code: malformed, unknown, revoked, expired,
    organisation not approved (401), address not allowed (403)."""
    raw = (raw or "").strip()
    if not raw.startswith(KEY_PREFIX) or raw.count("_") < 2:
        raise KeyError_("api_key_malformed", "Api-Key: expected `Api-Key cos_<prefix>_<secret>`.")
    prefix, _, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not prefix or not secret or len(prefix) > 16 or len(secret) > 100:
        raise KeyError_("api_key_malformed", "Api-Key: expected `Api-Key cos_<prefix>_<secret>`.")
    info = _load(prefix)
    if info is None or not hmac.compare_digest(info.secret_hash, _hash(secret)):
        raise KeyError_("api_key_unknown", "Api-Key: no such key.")
    if info.revoked:
        raise KeyError_("api_key_revoked", "Api-Key: this key was revoked.")
    if info.expires_at and info.expires_at <= timezone.now():
        raise KeyError_("api_key_expired", "Api-Key: this key expired.")
    if not info.approved:
        raise KeyError_("organisation_not_approved", "Api-Key: the organisation is not approved yet.", status=403)
    if info.ip_allowlist:
        try:
            ip = ipaddress.ip_address(remote_ip)
        except ValueError:
            ip = None
        if ip is None or not any(ip in net for net in info.ip_allowlist):
            raise KeyError_("ip_not_allowed", f"Api-Key: requests from {remote_ip} are not allowed for this key.", 403)
    return info


def scope_for(path: str, method: str, view_scope: str | None = None) -> str | None:
    """The scope a request needs (None: no family — keys may not call it)."""
    if view_scope:
        return view_scope
    for prefix, family in SCOPE_FAMILIES:
        if path.startswith(prefix):
            if family == "datasets" and method in SAFE_METHODS and any(p in path for p in RECORDS_PATHS):
                return "records:read"
            return f"{family}:{'read' if method in SAFE_METHODS else 'write'}"
    return None


# --- quotas (GCRA in Redis) -------------------------------------------------------------------------------

# KEYS: one TAT (theoretical arrival time) key per limit; ARGV: now (µs), then per limit: the
# emission interval T and the tolerance tau (µs). A request conforms to a limit when
# TAT - tau <= now; it is allowed when it conforms to all, and only then does every TAT move on
# (max(TAT, now) + T). Returns {allowed, retry_after_us, remaining of each limit...}.
_GCRA = """
local now = tonumber(ARGV[1])
local n = #KEYS
local tats = {}
local retry = 0
for i = 1, n do
  local t = tonumber(ARGV[2 * i])
  local tau = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local wait = tat - tau - now
  if wait > retry then retry = wait end
end
if retry > 0 then return {0, retry} end
local out = {1, 0}
for i = 1, n do
  local t = tonumber(ARGV[2 * i])
  local tau = tonumber(ARGV[2 * i + 1])
  local new = tats[i] + t
  redis.call('SET', KEYS[i], new, 'PX', math.ceil((tau + t) / 1000) + 1000)
  out[i + 2] = math.floor((tau + t - (new - now)) / t)
end
return out
"""


_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    """The cache's Redis (one client per process and URL; connections are pooled)."""
    url = settings.CACHES["default"]["LOCATION"]
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


_script = None


# The per-minute and per-day limits let a client run ahead of the steady rate by at most this share
# of the limit: at 10x overload the accepted count over any window stays within +4% of the limit
# (a GCRA with the usual tolerance of a whole period would accept twice the limit in the first
# window: the full burst, then the steady rate); limits under 250 allow 5 calls at once instead.
# The per-second limit is the burst size itself. Measured: 600/min at 10x for 60 s accepts +2%
# (bench_platform).
BURST_SHARE = 0.02


def _tolerance(period: int, n: int, t: int) -> int:
    if period == 1:
        return period * 1_000_000 - t  # up to n back to back within a second
    # Small limits still allow a few calls back to back (3/min: all three at once).
    burst = max(int(n * BURST_SHARE), min(n, 5))
    return (burst - 1) * t


def gcra_take(name: str, limits: list[tuple[int, int]], *, now_us: int | None = None) -> tuple[bool, int, list]:
    """One call against the limits [(period seconds, calls)] kept under `cityos:quota:<name>:…`:
    (allowed, retry-after µs, remaining calls per limit). Used by keys and by other per-caller
    limits (the NGSI-LD API's per-user quota) so that every limit holds across processes."""
    global _script
    r = _redis()
    if _script is None:
        _script = r.register_script(_GCRA)
    now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
    keys, argv = [], [now_us]
    for period, n in limits:
        t = period * 1_000_000 // n
        keys.append(f"cityos:quota:{name}:{period}")
        argv += [t, _tolerance(period, n, t)]
    allowed, retry_us, *remaining = _script(keys=keys, args=argv)
    return bool(allowed), int(retry_us), remaining


def _key_limits(info: KeyInfo) -> list[tuple[int, int]]:
    return [(p, n) for p, n in ((1, info.per_second), (60, info.per_minute), (86400, info.per_day)) if n > 0]


def _quota_answer(limits: list, allowed: bool, retry_us: int, remaining: list) -> tuple[bool, float, dict]:
    # The headers speak of the per-minute limit when there is one (the one clients plan around).
    i = next((j for j, (p, _n) in enumerate(limits) if p == 60), 0)
    period, n = limits[i]
    headers = {"RateLimit-Limit": str(n), "RateLimit-Policy": ", ".join(f"{n};w={p}" for p, n in limits)}
    if not allowed:
        seconds = max(int(retry_us) / 1_000_000, 0.001)
        headers.update({"RateLimit-Remaining": "0", "RateLimit-Reset": str(max(int(seconds + 0.999), 1))})
        return False, seconds, headers
    headers.update({"RateLimit-Remaining": str(max(int(remaining[i]), 0)), "RateLimit-Reset": str(period)})
    return True, 0.0, headers


def quota_take(info: KeyInfo, *, now_us: int | None = None) -> tuple[bool, float, dict]:
    """(allowed, retry-after seconds, RateLimit-* headers) for one call of this key."""
    limits = _key_limits(info)
    if not limits:
        return True, 0.0, {}
    allowed, retry_us, remaining = gcra_take(str(info.id), limits, now_us=now_us)
    return _quota_answer(limits, allowed, retry_us, remaining)


class QuotaInFlight:
    """A key's quota call sent to Redis and not yet answered (see `quota_send`)."""

    def __init__(self, info: KeyInfo, limits: list, conn, pool):
        self.info, self.limits, self.conn, self.pool = info, limits, conn, pool

    def answer(self) -> tuple[bool, float, dict]:
        """Read Redis's answer (the same as `quota_take`'s); the connection goes back to its pool."""
        try:
            reply = self.conn.read_response()
        except redis.exceptions.NoScriptError:
            # Redis restarted and lost the script: nothing was taken, take it the ordinary way.
            self.pool.release(self.conn)
            return quota_take(self.info)
        except BaseException:
            self.conn.disconnect()  # the stream may hold half an answer: never reuse it
            self.pool.release(self.conn)
            raise
        self.pool.release(self.conn)
        allowed, retry_us, *remaining = reply
        return _quota_answer(self.limits, bool(allowed), int(retry_us), remaining)


def quota_send(info: KeyInfo) -> QuotaInFlight | None:
    """Send a key's quota call to Redis without waiting for the answer, so that a read request's
    database work overlaps Redis's round trip (the middleware reads the answer after the view and
    answers 429 then if the quota was exhausted: a refused read computed its body for nothing, but
    changed nothing). None: no limits, or the script is not loaded in this process yet (the caller
    uses `quota_take`, which loads it)."""
    limits = _key_limits(info)
    if not limits or _script is None:
        return None
    r = _redis()
    now_us = int(time.time() * 1_000_000)
    keys, argv = [], [now_us]
    for period, n in limits:
        t = period * 1_000_000 // n
        keys.append(f"cityos:quota:{info.id}:{period}")
        argv += [t, _tolerance(period, n, t)]
    pool = r.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command("EVALSHA", _script.sha, len(keys), *keys, *argv)
    except BaseException:
        conn.disconnect()
        pool.release(conn)
        raise
    return QuotaInFlight(info, limits, conn, pool)


# --- metering -----------------------------------------------------------------------------------------------


def _meter_key(day: date) -> str:
    return f"cityos:meter:{day.isoformat()}"


# Calls are counted in the process and sent to Redis by a background thread within
# METER_FLUSH_SECONDS (one pipelined HINCRBY per distinct key|endpoint|status), not by a Redis
# round trip on the request's own path: that round trip was a third of an NGSI-LD retrieval by id
# (1 of 3 server round trips; ~3 ms of 11 ms under a load of 8). `usage_flush` (beat, the usage
# pages, the report) sends this process's pending counts first, and they are sent at exit too;
# a process killed outright loses at most the last METER_FLUSH_SECONDS of its counts.
METER_FLUSH_SECONDS = 0.05
_meter_lock = threading.Lock()  # guards the pending counts
_meter_flush_lock = threading.Lock()  # one flush at a time (tests clear Redis under it)
_meter_pending: Counter = Counter()
_meter_wake = threading.Event()
_meter_thread: threading.Thread | None = None
_meter_pid: int | None = None


def meter(info: KeyInfo, *, endpoint: str, status: int) -> None:
    day = timezone.localdate()
    with _meter_lock:
        _meter_pending[(day, f"{info.id}|{endpoint[:200]}|{status}")] += 1
    _meter_thread_running()
    _meter_wake.set()


def meter_flush() -> int:
    """Send this process's pending call counts to Redis now; returns how many calls were sent. On
    a Redis error the counts stay pending (the next flush retries them)."""
    with _meter_flush_lock:
        with _meter_lock:
            pending = dict(_meter_pending)
            _meter_pending.clear()
        if not pending:
            return 0
        try:
            pipe = _redis().pipeline(transaction=False)
            for (day, field), n in pending.items():
                pipe.hincrby(_meter_key(day), field, n)
            for day in {day for day, _field in pending}:
                pipe.expire(_meter_key(day), 8 * 86400)
            pipe.execute()
        except Exception:
            with _meter_lock:
                _meter_pending.update(pending)
            raise
        return sum(pending.values())


def _meter_loop() -> None:
    while True:
        _meter_wake.wait()
        time.sleep(METER_FLUSH_SECONDS)  # gather the calls of the next 50 ms into one pipeline
        _meter_wake.clear()
        try:
            meter_flush()
        except Exception:  # noqa: BLE001 - Redis away: keep the counts, retry on the next wake
            logger.warning("API metering: Redis unavailable, counts kept for the next flush", exc_info=True)
            time.sleep(1)
            _meter_wake.set()


def _meter_thread_running() -> None:
    global _meter_thread, _meter_pid
    pid = os.getpid()
    if _meter_thread is not None and _meter_pid == pid and _meter_thread.is_alive():
        return
    with _meter_lock:
        if _meter_thread is not None and _meter_pid == pid and _meter_thread.is_alive():
            return
        if _meter_pid is None:
            atexit.register(_meter_flush_quietly)
        # (re)started per process: a thread does not survive a fork of the web server's master
        _meter_pid = pid
        _meter_thread = threading.Thread(target=_meter_loop, name="cityos-api-meter", daemon=True)
        _meter_thread.start()


def _meter_flush_quietly() -> None:
    try:
        meter_flush()
    except Exception:  # noqa: BLE001 - at exit there is no one left to tell but the log
        logger.warning("API metering: counts lost at exit", exc_info=True)


def usage_flush(*, day: date | None = None) -> int:
    """Move the Redis counters of `day` (default: today and yesterday) into ApiUsage; returns rows
    touched. RENAME makes the move atomic: calls counted meanwhile land in a fresh hash."""
    meter_flush()  # this process's calls of the last METER_FLUSH_SECONDS belong in the counts
    r = _redis()
    days = [day] if day else [timezone.localdate() - timedelta(days=1), timezone.localdate()]
    touched = 0
    for d in days:
        src = _meter_key(d)
        tmp = f"{src}:flushing:{secrets.token_hex(4)}"
        try:
            r.rename(src, tmp)
        except redis.exceptions.ResponseError:  # "no such key": nothing counted that day
            continue
        counts = r.hgetall(tmp)
        try:
            touched += _usage_store(d, counts)
        except Exception:
            # Nothing is lost: the counts go back where the next flush will find them.
            pipe = r.pipeline(transaction=False)
            for field, value in counts.items():
                pipe.hincrby(src, field, int(value))
            pipe.delete(tmp)
            pipe.execute()
            raise
        r.delete(tmp)
    return touched


def _usage_store(d: date, counts: dict) -> int:
    touched = 0
    with transaction.atomic():
        for field, value in counts.items():
            key_id, endpoint, status = field.decode().rsplit("|", 2)
            n = int(value)
            updated = ApiUsage.objects.filter(key_id=key_id, day=d, endpoint=endpoint, status=status).update(
                count=F("count") + n
            )
            if not updated and ApiKey.objects.filter(id=key_id).exists():
                ApiUsage.objects.create(key_id=key_id, day=d, endpoint=endpoint, status=status, count=n)
            touched += 1
    return touched


def quotas_enabled() -> bool:
    return getattr(settings, "API_KEY_QUOTAS", True)
