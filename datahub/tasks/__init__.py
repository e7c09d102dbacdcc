"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from . import monitoring  # noqa: F401
from .datasets import dataset_entities_link_run, dataset_import_run
from .documents import fetch_source, opinion_detect_spikes
from .iot import ingest_batches_prune_task, observation_partitions_ensure_task
from .iot_imports import series_import_run, series_imports_recover_task
from .sources import source_pull

__all__ = [
    "dataset_entities_link_run",
    "dataset_import_run",
    "fetch_source",
    "ingest_batches_prune_task",
    "observation_partitions_ensure_task",
    "opinion_detect_spikes",
    "series_import_run",
    "series_imports_recover_task",
    "source_pull",
]
