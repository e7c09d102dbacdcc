"""The append-only event log: the one write path (the facade's `event_record` calls this)."""

from datetime import datetime

from django.contrib.gis.geos import Point
from django.utils import timezone

from cityos import bus
from datahub.core.models import Event


def event_record(
    *,
    type: str,  # noqa: A002 - the event's type, as in the model
    occurred_at: datetime | None = None,
    subject_id: int | None = None,
    area_id: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
    actor_id: int | None = None,
    source_id: int | None = None,
    object_ref: str = "",
    department_id: int | None = None,
    payload: dict | None = None,
) -> int:
    """Append an event and publish it as `datahub.event_recorded` after commit; returns its id."""
    if not type:
        raise ValueError("event type is required")
    if occurred_at is not None and timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)  # a naive time is the city's local time
    event = Event.objects.create(
        type=type,
        occurred_at=occurred_at or timezone.now(),
        subject_id=subject_id,
        area_id=area_id,
        location=Point(lon, lat, srid=4326) if lon is not None and lat is not None else None,
        actor_id=actor_id,
        source_id=source_id,
        object_ref=object_ref,
        department_id=department_id,
        payload=payload or {},
    )
    bus.publish(
        "datahub.event_recorded",
        {"event_id": event.id, "type": type, "area_id": area_id, "occurred_at": event.occurred_at.isoformat()},
    )
    return event.id
