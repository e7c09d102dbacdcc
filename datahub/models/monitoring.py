"""Kept for migration 0010, which names `datahub.models.monitoring.deactivate_rules` as an on_delete.
The monitoring models live in `datahub.monitoring.models`."""

from datahub.monitoring.models import deactivate_rules  # noqa: F401
