import pytest

from tests.governance.factories import MiniCity


@pytest.fixture
def city(db):
    return MiniCity()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """A transactional test elsewhere flushes the migration's reference rows: put them back."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        from industry.services.reference import reference_data_ensure

        request.getfixturevalue("db")
        reference_data_ensure()
