"""Reactions to governance's case events: only those whose origin is one of our appeals."""

from industry.services.appeals import appeal_case_event


def on_case_created(payload: dict) -> int | None:
    return appeal_case_event(payload, event="created")


def on_case_updated(payload: dict) -> int | None:
    return appeal_case_event(payload, event="updated")


def on_case_closed(payload: dict) -> int | None:
    return appeal_case_event(payload, event="closed")
