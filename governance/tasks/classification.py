from celery import shared_task
from django.db import OperationalError

from governance.services.classification import classifier_train


@shared_task(
    name="governance.train_classifier",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    soft_time_limit=1200,
)
def train_classifier_task() -> int | None:
    """Retrain the case classifier on past cases and officers' corrections (nightly, from beat)."""
    return classifier_train()
