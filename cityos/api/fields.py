"""Input fields that check values at the edge, before they reach a query.

PostgreSQL refuses UTC offsets beyond ±15:59, BC-era dates overflow, and integers beyond 32 or 64
bits do not fit their columns: each of these was a 500 under a fuzzer. These fields answer 400
naming the parameter instead (bounds in cityos/dates.py).
"""

from datetime import datetime

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from cityos.dates import datetime_bounds_error

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


class BoundedDateTimeField(serializers.DateTimeField):
    """A DRF date-time within years 1900–2200 and offsets within ±14:00."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        problem = datetime_bounds_error(parsed)
        if problem:
            raise serializers.ValidationError(problem)
        return parsed


class BoundedIsoDateTimeFormField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        try:
            parsed = super().to_python(value)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError(f"{value!r} is not a valid date-time") from exc
        if parsed is not None:
            problem = datetime_bounds_error(parsed)
            if problem:
                raise forms.ValidationError(problem)
        return parsed


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """django-filter's ISO 8601 filter with the same bounds."""

    field_class = BoundedIsoDateTimeFormField


def parse_bounded_datetime(raw: str) -> datetime | None:
    """A date-time query parameter: None when unparseable or out of bounds (the caller says which)."""
    try:
        value = parse_datetime(raw)
    except ValueError:
        return None
    if value is None or datetime_bounds_error(value):
        return None
    return value
