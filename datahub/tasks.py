"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from datahub.core.tasks import source_pull
from datahub.datasets.tasks import dataset_entities_link_run, dataset_import_run
from datahub.iot.tasks import (
    ingest_batches_prune_task,
    mqtt_reconcile_task,
    observation_partitions_ensure_task,
    series_import_run,
    series_imports_recover_task,
)
from datahub.monitoring import tasks as monitoring  # noqa: F401
from datahub.text.tasks import fetch_source, opinion_detect_spikes

__all__ = [
    "dataset_entities_link_run",
    "dataset_import_run",
    "fetch_source",
    "ingest_batches_prune_task",
    "mqtt_reconcile_task",
    "observation_partitions_ensure_task",
    "opinion_detect_spikes",
    "series_import_run",
    "series_imports_recover_task",
    "source_pull",
]
