"""Celery tasks of the search index."""

from celery import shared_task


@shared_task(name="datahub.search_reindex", acks_late=True, soft_time_limit=3600, time_limit=3700)
def search_reindex(kinds: list[str] | None = None) -> dict:
    """Rebuild the index from the providers (safe to run twice: it upserts and drops the stale)."""
    from .services import search_reindex as reindex

    return reindex(kinds=kinds)
