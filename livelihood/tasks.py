"""Periodic work of the livelihood wing (scheduled by django-celery-beat; each is safe to run twice)."""

from celery import shared_task

from livelihood.models import Office
from livelihood.services import appointments, notices


@shared_task(name="livelihood.slots_generate", acks_late=True, soft_time_limit=300)
def slots_generate(days: int = 30) -> int:
    return sum(
        appointments.slots_generate(office_id=o, days=days)
        for o in Office.objects.filter(is_active=True).values_list("id", flat=True)
    )


@shared_task(name="livelihood.appointments_remind", acks_late=True, soft_time_limit=300)
def appointments_remind() -> int:
    return appointments.appointments_remind(within_hours=24)


@shared_task(name="livelihood.notices_announce_due", acks_late=True, soft_time_limit=120)
def notices_announce_due() -> int:
    return notices.notices_announce_due()


@shared_task(name="livelihood.notices_send_digests", acks_late=True, soft_time_limit=600)
def notices_send_digests() -> int:
    return notices.notices_send_digests()
