"""HTTP GET for pull connectors: timeouts, retries with exponential backoff, a per-source rate
limit, bounded redirects and a maximum body size, so one bad site cannot stall or flood a worker."""

import time
from dataclasses import dataclass, field

import httpx
import redis
from django.conf import settings

USER_AGENT = "CityOS-datahub/1.0 (+https://github.com/cityos)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_BACKOFF_S = 30.0


class FetchError(Exception):
    """A fetch that failed for good (after retries): `code` is stable, the message says why."""

    def __init__(self, code: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class HttpConfig:
    timeout_s: float = 10.0
    total_timeout_s: float = 60.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff_s: float = 1.0
    min_interval_s: float = 1.0  # per source: at most one request a second by default

    @classmethod
    def from_config(cls, config: dict) -> "HttpConfig":
        known = {k: config[k] for k in cls.__dataclass_fields__ if k in config}
        return cls(**known)


@dataclass
class HttpResponse:
    status: int
    content: bytes
    url: str
    headers: dict = field(default_factory=dict)
    attempts: int = 1


_redis: dict[str, redis.Redis] = {}


def _client() -> redis.Redis:
    url = settings.CACHES["default"]["LOCATION"]
    if url not in _redis:
        _redis[url] = redis.Redis.from_url(url)
    return _redis[url]


def rate_limit_wait(key: str, min_interval_s: float, *, max_wait_s: float = 60.0) -> float:
    """Block until this source may send its next request (shared by every worker, via Redis).
    Returns the seconds waited."""
    if min_interval_s <= 0:
        return 0.0
    started = time.monotonic()
    ms = max(1, int(min_interval_s * 1000))
    r = _client()
    while not r.set(f"datahub:ratelimit:{key}", 1, nx=True, px=ms):
        if time.monotonic() - started > max_wait_s:
            raise FetchError(
                "rate_limited", f"rate limit of one request per {min_interval_s}s not free after {max_wait_s}s"
            )
        pttl = r.pttl(f"datahub:ratelimit:{key}")
        time.sleep(max(0.01, min(pttl / 1000 if pttl and pttl > 0 else 0.05, 1.0)))
    return time.monotonic() - started


def _read_limited(resp: httpx.Response, cfg: HttpConfig, deadline: float) -> bytes:
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cfg.max_bytes:
        raise FetchError("too_large", f"body of {declared} bytes is larger than the limit of {cfg.max_bytes}")
    chunks, size = [], 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        if size > cfg.max_bytes:
            raise FetchError("too_large", f"body is larger than the limit of {cfg.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(f"whole response took longer than {cfg.total_timeout_s}s")
        chunks.append(chunk)
    return b"".join(chunks)


def http_get(
    url: str, *, cfg: HttpConfig, rate_key: str, headers: dict | None = None, params: dict | None = None
) -> HttpResponse:
    """GET with retries on timeouts, connection errors, 429 and 5xx; other 4xx fail at once."""
    hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
    last: Exception | None = None
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(min(cfg.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))
        rate_limit_wait(rate_key, cfg.min_interval_s)
        deadline = time.monotonic() + cfg.total_timeout_s
        try:
            with httpx.Client(
                timeout=httpx.Timeout(cfg.timeout_s), follow_redirects=True, max_redirects=cfg.max_redirects
            ) as client:
                with client.stream("GET", url, headers=hdrs, params=params) as resp:
                    if resp.status_code in RETRY_STATUSES:
                        last = FetchError(
                            "http_error", f"HTTP {resp.status_code} from {resp.url}", status=resp.status_code
                        )
                        continue
                    if resp.status_code == 304:
                        return HttpResponse(304, b"", str(resp.url), dict(resp.headers), attempt + 1)
                    if resp.status_code >= 400:
                        raise FetchError(
                            "http_error", f"HTTP {resp.status_code} from {resp.url}", status=resp.status_code
                        )
                    body = _read_limited(resp, cfg, deadline)
                    return HttpResponse(resp.status_code, body, str(resp.url), dict(resp.headers), attempt + 1)
        except httpx.TooManyRedirects as exc:
            raise FetchError("too_many_redirects", f"more than {cfg.max_redirects} redirects from {url}") from exc
        except httpx.TimeoutException as exc:
            last = FetchError("timeout", f"timed out after {cfg.timeout_s}s reading {url} ({exc.__class__.__name__})")
        except httpx.TransportError as exc:
            last = FetchError("connection_error", f"could not connect to {url}: {exc}")
        except httpx.InvalidURL as exc:
            raise FetchError("invalid_url", f"invalid URL {url!r}: {exc}") from exc
    assert last is not None
    raise FetchError(last.code, f"{last} (after {cfg.retries + 1} attempts)", status=last.status)
