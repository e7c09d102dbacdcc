"""Connector registry: what a source's `connector` name runs when its schedule fires.

Features register theirs in their AppConfig.ready() by dotted path (nothing is imported until a
pull runs):

    connectors.register("rss", "datahub.feeds.pull_rss")

A connector is called as `fn(source_id=…, run_id=…)` inside an open run and returns the counts
`{"read": n, "stored": n, "rejected": n}` (and may call run_progress meanwhile); it raises to fail.
"""

from collections.abc import Callable

from django.utils.module_loading import import_string

_CONNECTORS: dict[str, str] = {}


def register(name: str, dotted_path: str) -> None:
    _CONNECTORS[name] = dotted_path


def names() -> list[str]:
    return sorted(_CONNECTORS)


def get(name: str) -> Callable | None:
    path = _CONNECTORS.get(name)
    return import_string(path) if path else None
