"""Live pushes to open pages, sent after commit; a down channel layer never breaks a case write."""

import logging

from django.db import transaction

from cityos import realtime

log = logging.getLogger(__name__)


def push_after_commit(*, event: str, data: dict, department_ids=(), user_ids=()) -> None:
    def send():
        try:
            for d in {d for d in department_ids if d}:
                realtime.publish_to_department(d, event, data)
            for u in {u for u in user_ids if u}:
                realtime.publish_to_user(u, event, data)
        except Exception:  # noqa: BLE001 - live pushes are best effort; the data is in the database
            log.warning("live push %s failed", event, exc_info=True)

    transaction.on_commit(send)
