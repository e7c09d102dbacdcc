"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from . import monitoring  # noqa: F401
