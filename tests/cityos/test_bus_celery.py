"""The production path of domain events: after commit, one `cityos.deliver_domain_event` task per
handler, run by a real Celery worker (acks_late, retried on failure). The rest of the suite delivers
them eagerly (DOMAIN_EVENTS_EAGER)."""

from pathlib import Path

import pytest
from django.db import transaction

from cityos import bus
from tests.helpers import wait_until

EVENT = "tests.flaky_event"


def flaky_handler(payload: dict) -> None:
    """Counts its calls in the payload's file; the first call fails, the retry succeeds."""
    path = Path(payload["path"])
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls == 1:
        raise RuntimeError("the first delivery fails")
    Path(payload["path"] + ".done").write_text(payload["word"])


@pytest.mark.celery_worker
def test_a_domain_event_is_delivered_by_the_worker_after_commit_and_retried_once(
    transactional_db, celery_worker_process, settings, monkeypatch, tmp_path
):
    settings.DOMAIN_EVENTS_EAGER = False
    monkeypatch.setitem(bus._subscribers, EVENT, ["tests.cityos.test_bus_celery.flaky_handler"])
    calls = tmp_path / "calls"
    with transaction.atomic():
        bus.publish(EVENT, {"path": str(calls), "word": "delivered"})
        assert not calls.exists()  # nothing is delivered before the publisher commits
    wait_until(lambda: Path(f"{calls}.done").exists(), 60, "the retried delivery")
    assert calls.read_text() == "2" and Path(f"{calls}.done").read_text() == "delivered"


def test_publishing_rolled_back_delivers_nothing(transactional_db, settings, monkeypatch, tmp_path):
    settings.DOMAIN_EVENTS_EAGER = True
    monkeypatch.setitem(bus._subscribers, EVENT, ["tests.cityos.test_bus_celery.flaky_handler"])
    calls = tmp_path / "calls"
    with pytest.raises(RuntimeError, match="rollback"), transaction.atomic():
        bus.publish(EVENT, {"path": str(calls), "word": "never"})
        raise RuntimeError("rollback")
    assert not calls.exists()
