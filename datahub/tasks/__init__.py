"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from .datasets import dataset_import_run
from .sources import source_pull

__all__ = ["dataset_import_run", "source_pull"]
