"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from .datasets import dataset_import_run
from .iot import ingest_batches_prune_task, observation_partitions_ensure_task
from .sources import source_pull

__all__ = ["dataset_import_run", "ingest_batches_prune_task", "observation_partitions_ensure_task", "source_pull"]
