"""One signed webhook POST, shared by every webhook CityOS sends (event subscriptions of external
applications, the monitoring webhooks of the datahub): the same signature, headers, timeout
handling and backoff everywhere.

    X-CityOS-Timestamp: <unix seconds>
    X-CityOS-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant
time and refuses timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import httpx

USER_AGENT = "CityOS-Webhooks/1"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_s: int = 300) -> bool:
    """What a receiver does (used by the tests and shown in the guides)."""
    try:
        if abs(time.time() - int(timestamp)) > tolerance_s:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str
    ms: float

    def log_entry(self, at: str) -> dict:
        return {"at": at, "status_code": self.status_code, "error": self.error, "ms": self.ms}


def post_signed(
    *, url: str, secret: str, event: str, delivery_id: str, payload: dict, timeout: float = 10.0
) -> Attempt:
    """POST the payload, signed; never raises for network trouble (a refused connection, a timeout
    or a non-2xx answer are failed attempts with their reason)."""
    body = body_of(payload)
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-CityOS-Event": event,
        "X-CityOS-Delivery": delivery_id,
        "X-CityOS-Timestamp": ts,
        "X-CityOS-Signature": sign(secret, ts, body),
    }
    started = time.perf_counter()
    code, error = None, ""
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
        code = resp.status_code
        ok = 200 <= code < 300
        if not ok:
            error = f"HTTP {code}"
    except httpx.HTTPError as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
    return Attempt(ok=ok, status_code=code, error=error, ms=round((time.perf_counter() - started) * 1000, 1))


def backoff_s(attempts: int, *, base: int = 30, cap: int = 3600) -> int:
    """Seconds before the next attempt after `attempts` failed ones: base, 2·base, 4·base… ≤ cap."""
    return min(base * 2 ** max(attempts - 1, 0), cap)
