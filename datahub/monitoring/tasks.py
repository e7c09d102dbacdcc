"""Celery tasks of monitoring: deliveries (email) and the beat jobs."""

from smtplib import SMTPException

from celery import shared_task

from datahub.monitoring.services import evaluate, notify


@shared_task(
    name="datahub.monitoring_deliver_email",
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_kwargs={"max_retries": 6},
    soft_time_limit=60,
)
def deliver_email(notification_id: int) -> bool:
    return notify.email_send(notification_id=notification_id)


@shared_task(
    name="datahub.monitoring_apply_transition",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 10},
    soft_time_limit=60,
)
def apply_transition_later(rule_id: int, subject_key: str, transition: list, obs: dict) -> None:
    """A raise/clear that failed on the ingest path (database down): retried until it lands."""
    evaluate.apply_transition(rule_id=rule_id, subject_key=subject_key, transition=tuple(transition), obs=obs)


@shared_task(name="datahub.monitoring_escalate", acks_late=True, soft_time_limit=120)
def escalate_alerts() -> int:
    return notify.escalate_due()


@shared_task(name="datahub.monitoring_heartbeats", acks_late=True, soft_time_limit=120)
def check_heartbeats() -> int:
    return evaluate.heartbeats_check()


@shared_task(name="datahub.monitoring_event_rules", acks_late=True, soft_time_limit=120)
def evaluate_event_rules() -> int:
    return evaluate.event_rules_evaluate()


@shared_task(name="datahub.monitoring_flush_deferred", acks_late=True, soft_time_limit=120)
def flush_deferred() -> int:
    return notify.deferred_flush()
