"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from .iot import ingest_batches_prune_task, observation_partitions_ensure_task

__all__ = ["ingest_batches_prune_task", "observation_partitions_ensure_task"]
