"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from .sources import source_pull

__all__ = ["source_pull"]
