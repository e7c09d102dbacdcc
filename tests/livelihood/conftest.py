import pytest
from django.core.cache import cache

from tests.governance.factories import MiniCity


def clear_throttles() -> None:
    """Empty the anonymous throttles of the test client's address (127.0.0.1) only. Never cache.clear():
    it flushes the Redis database the channel layer and the other xdist worker share."""
    client = cache._cache.get_client(write=True)
    for pattern in ("*throttle_livelihood_*_127.0.0.1", "*portal-rl:*:127.0.0.1"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Anonymous throttles count in the Redis cache: each test starts with empty buckets."""
    clear_throttles()
    yield


@pytest.fixture
def city(db):
    return MiniCity()
