import pytest

from tests.governance.factories import MiniCity


@pytest.fixture
def city(db):
    return MiniCity()
