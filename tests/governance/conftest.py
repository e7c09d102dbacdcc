import pytest

from governance.services.classification import classifier_cache_reset
from governance.services.location import gazetteer_reset
from governance.services.refcache import refcache_reset_all
from tests.governance.factories import MiniCity


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rules, model and gazetteer are cached per process for 30–60 s; each test has its own."""
    classifier_cache_reset()
    gazetteer_reset()
    refcache_reset_all()
    yield
    classifier_cache_reset()
    gazetteer_reset()
    refcache_reset_all()


@pytest.fixture
def city(db):
    return MiniCity()
