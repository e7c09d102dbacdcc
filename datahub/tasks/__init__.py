"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from .datasets import dataset_import_run

__all__ = ["dataset_import_run"]
