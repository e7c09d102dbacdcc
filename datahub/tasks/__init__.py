"""Celery tasks of the datahub: one module per topic, each imported here so autodiscovery finds it."""

from .documents import fetch_source, opinion_detect_spikes

__all__ = ["fetch_source", "opinion_detect_spikes"]
