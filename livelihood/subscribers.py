"""Governance's case progress, mirrored onto the portal report or the rating that asked for the case;
governance's working calendar, mirrored onto the offices' holidays."""

from livelihood.services.appointments import holidays_apply_calendar
from livelihood.services.ratings import rating_apply_case_event
from livelihood.services.reports import report_apply_case_event


def _origin(payload: dict) -> tuple[str, int | None]:
    origin = payload.get("origin") or {}
    try:
        return str(origin.get("kind") or ""), int(origin.get("id"))
    except (TypeError, ValueError):
        return "", None


def _apply(payload: dict, closed: bool) -> None:
    kind, ident = _origin(payload)
    if ident is None:
        return
    if kind == "portal_report":
        report_apply_case_event(report_id=ident, payload=payload, closed=closed)
    elif kind == "rating":
        rating_apply_case_event(rating_id=ident, payload=payload)


def on_case_created(payload: dict) -> None:
    _apply(payload, closed=False)


def on_case_updated(payload: dict) -> None:
    _apply(payload, closed=False)


def on_case_closed(payload: dict) -> None:
    _apply(payload, closed=True)


def on_calendar_changed(payload: dict) -> None:
    holidays_apply_calendar(days=payload.get("days") or [])
