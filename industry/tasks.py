"""Celery tasks of the industry wing: ids in, a service call, safe to run twice."""

from celery import shared_task
from django.db import OperationalError, transaction

from industry.services.matching import match_run
from industry.services.risk import risk_recompute


@shared_task(
    name="industry.match", acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, soft_time_limit=300
)
def match_task(enterprise_ids: list[int] | None = None, policy_ids: list[int] | None = None) -> dict:
    return match_run(enterprise_ids=enterprise_ids, policy_ids=policy_ids)


@shared_task(
    name="industry.risk_recompute",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    soft_time_limit=900,
)
def risk_task(enterprise_ids: list[int] | None = None) -> dict:
    """Beat: every enterprise nightly; on change: the enterprises named."""
    return risk_recompute(enterprise_ids=enterprise_ids)


def queue_rematch(*, enterprise_ids=None, policy_ids=None, all_enterprises: bool = False) -> None:
    """Re-run matching (and the risk of the enterprises named) after the current transaction commits."""
    eids = None if all_enterprises else (list(enterprise_ids) if enterprise_ids is not None else None)
    pids = list(policy_ids) if policy_ids is not None else None

    def go():
        match_task.delay(eids, pids)
        if eids:
            risk_task.delay(eids)

    transaction.on_commit(go)
