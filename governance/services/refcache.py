"""Small per-process caches of reference data that changes rarely (categories, SLA policies, the
holiday calendar): re-read at most every TTL_S seconds, and at once in this process after an edit
through the admin or a service. Each would otherwise cost a query on every case received (~1–5 ms
each on a busy machine; intake does ~20 queries per case)."""

import time
from collections.abc import Callable
from typing import Any

TTL_S = 30


class RefCache:
    _all: list["RefCache"] = []

    def __init__(self, loader: Callable[[], Any]):
        self.loader = loader
        self.at = -1e9
        self.value: Any = None
        RefCache._all.append(self)

    def get(self) -> Any:
        now = time.monotonic()
        if now - self.at > TTL_S:
            self.value = self.loader()
            self.at = now
        return self.value

    def reset(self) -> None:
        self.at = -1e9


def refcache_reset_all() -> None:
    for c in RefCache._all:
        c.reset()
