"""Date-times from the outside world, checked at the edge.

Python accepts years 1–9999 and UTC offsets up to ±23:59; PostgreSQL refuses offsets beyond
±15:59 and BC-era arithmetic overflows, so an unchecked value becomes a 500 deep in a query. Every
date-time a client sends (API filters, Open311 dates) goes through `parse_aware_datetime` or the
bounds below: years 1900–2200, offsets within ±14:00 (the widest in use on Earth).
"""

from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

MIN_YEAR = 1900
MAX_YEAR = 2200
MAX_OFFSET = timedelta(hours=14)


def datetime_bounds_error(value: datetime) -> str | None:
    """Why `value` is outside the sane range, or None when it is fine."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return f"year {value.year} is outside {MIN_YEAR}–{MAX_YEAR}"
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        return "the UTC offset is beyond ±14:00"
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        return "the date-time is out of range"
    return None


def parse_aware_datetime(raw: str) -> datetime:
    """An ISO 8601 date-time with a time zone, within the bounds; ValueError with the reason."""
    try:
        value = parse_datetime(raw.strip())
    except ValueError as exc:  # well formed but impossible: month 13, 30 February
        raise ValueError(f"{raw!r} is not a valid date-time ({exc})") from None
    if value is None or value.tzinfo is None:
        raise ValueError(f"{raw!r} is not a W3C date-time with a time zone")
    problem = datetime_bounds_error(value)
    if problem:
        raise ValueError(f"{raw!r}: {problem}")
    return value
