import pytest


@pytest.fixture(autouse=True)
def _fresh_rule_index():
    """Each test compiles the rule index anew: Redis (and with it the rule-set version) is flushed
    between tests, and a rolled-back test never commits its version bump."""
    from datahub.services.monitoring import rules

    rules._index = None
    yield
    rules._index = None
