"""Dataset imports run here: a long file must not hold a web request."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="datahub.dataset_import_run",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=20 * 60,
)
def dataset_import_run(import_id: int) -> str | None:
    """Run one queued import; a second delivery of the same id finds it claimed and does nothing."""
    from datahub.datasets.services.datasets import dataset_import_execute

    imp = dataset_import_execute(import_id=import_id)
    return imp.status if imp else None


@shared_task(
    name="datahub.dataset_entities_link",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=20 * 60,
)
def dataset_entities_link_run(dataset_id: int, user_id: int | None = None) -> dict:
    """Link a dataset's current rows to entities; a second delivery finds them linked and does nothing."""
    from datahub.datasets.services.entities import dataset_entities_link

    return dataset_entities_link(dataset_id=dataset_id, user_id=user_id)
