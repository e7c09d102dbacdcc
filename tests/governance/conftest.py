import pytest

from governance.services.classification import classifier_cache_reset
from governance.services.location import gazetteer_reset
from tests.governance.factories import MiniCity


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rules, model and gazetteer are cached per process for 30–60 s; each test has its own."""
    classifier_cache_reset()
    gazetteer_reset()
    yield
    classifier_cache_reset()
    gazetteer_reset()


@pytest.fixture
def city(db):
    return MiniCity()
