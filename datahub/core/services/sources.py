"""Sources: register where data comes from, its connector, credentials and schedule.

The schedule is a django-celery-beat PeriodicTask ("datahub.source_pull" with the source's id),
created, updated or removed here so admins see and change it in one place. Credentials are
stored (for the connector) and never returned: the API and admin only say whether they are set.
"""

from dataclasses import dataclass

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from datahub.core.models import Department, Source

_UNSET = object()
PULL_TASK = "datahub.source_pull"
MIN_INTERVAL_SECONDS = 60  # a feed polled more often than once a minute belongs on MQTT/webhooks


class SourceError(ValueError):
    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Schedule:
    """Either a crontab line ("*/15 * * * *", in the city's time zone) or an interval in seconds."""

    cron: str | None = None
    interval_seconds: int | None = None

    def validate(self) -> None:
        if bool(self.cron) == bool(self.interval_seconds):
            raise SourceError("give either cron or interval_seconds", field="schedule")
        if self.cron:
            parts = self.cron.split()
            if len(parts) != 5:
                raise SourceError(
                    f"cron {self.cron!r} must have 5 fields (minute hour day month weekday)", field="schedule"
                )
            try:
                crontab(
                    minute=parts[0], hour=parts[1], day_of_month=parts[2], month_of_year=parts[3], day_of_week=parts[4]
                )
            except (ValueError, KeyError) as exc:
                raise SourceError(f"cron {self.cron!r} is not valid: {exc}", field="schedule") from exc
        if self.interval_seconds is not None and self.interval_seconds < MIN_INTERVAL_SECONDS:
            raise SourceError(f"interval_seconds must be at least {MIN_INTERVAL_SECONDS}", field="schedule")


def _validate(kind: str | None, owner_department_id, config, credentials) -> None:
    if kind is not None and kind not in Source.Kind.values:
        raise SourceError(f"kind must be one of {', '.join(Source.Kind.values)}", field="kind")
    if owner_department_id is not None and not Department.objects.filter(id=owner_department_id).exists():
        raise SourceError(f"department {owner_department_id} does not exist", field="owner_department")
    if config is not None and not isinstance(config, dict):
        raise SourceError("config must be a JSON object", field="config")
    if credentials is not None and not isinstance(credentials, dict):
        raise SourceError("credentials must be a JSON object", field="credentials")


def source_register(
    *,
    code: str,
    name: str,
    kind: str,
    owner_department_id: int | None = None,
    connector: str = "",
    config: dict | None = None,
    credentials: dict | None = None,
    schedule: Schedule | None = None,
    is_active: bool = True,
) -> int:
    _validate(kind, owner_department_id, config, credentials)
    if Source.objects.filter(code=code).exists():
        raise SourceError(f"a source with code {code!r} exists", field="code")
    with transaction.atomic():
        source = Source.objects.create(
            code=code,
            name=name,
            kind=kind,
            owner_department_id=owner_department_id,
            connector=connector,
            config=config or {},
            credentials=credentials or {},
            is_active=is_active,
        )
        if schedule is not None:
            source_schedule_set(source_id=source.id, schedule=schedule)
    return source.id


def source_update(
    *,
    source_id: int,
    name=_UNSET,
    kind=_UNSET,
    owner_department_id=_UNSET,
    connector=_UNSET,
    config=_UNSET,
    credentials=_UNSET,
    schedule=_UNSET,
    is_active=_UNSET,
) -> None:
    """Change the given fields only. `credentials=None` leaves them as they are; `{}` clears them."""
    values = {
        k: v
        for k, v in {
            "name": name,
            "kind": kind,
            "owner_department_id": owner_department_id,
            "connector": connector,
            "config": config,
            "credentials": credentials,
            "is_active": is_active,
        }.items()
        if v is not _UNSET
    }
    if values.get("credentials", _UNSET) is None:
        values.pop("credentials")
    _validate(values.get("kind"), values.get("owner_department_id"), values.get("config"), values.get("credentials"))
    with transaction.atomic():
        source = Source.objects.select_for_update().get(id=source_id)
        for k, v in values.items():
            setattr(source, k, v)
        source.save()
        if schedule is not _UNSET:
            source_schedule_set(source_id=source.id, schedule=schedule)
        elif source.schedule_id and "is_active" in values:
            PeriodicTask.objects.filter(id=source.schedule_id).update(enabled=source.is_active)


def source_schedule_set(*, source_id: int, schedule: Schedule | None) -> int | None:
    """Create, change or (schedule=None) remove the source's PeriodicTask; idempotent."""
    with transaction.atomic():
        source = Source.objects.select_for_update().get(id=source_id)
        if schedule is None:
            if source.schedule_id:
                PeriodicTask.objects.filter(id=source.schedule_id).delete()
                Source.objects.filter(id=source_id).update(schedule=None)
            return None
        schedule.validate()
        task_fields: dict = {"crontab": None, "interval": None}
        if schedule.cron:
            minute, hour, day, month, weekday = schedule.cron.split()
            task_fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_month=day,
                month_of_year=month,
                day_of_week=weekday,
                timezone=settings.TIME_ZONE,
            )
        else:
            task_fields["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=schedule.interval_seconds, period=IntervalSchedule.SECONDS
            )
        task, _ = PeriodicTask.objects.update_or_create(
            name=f"datahub source {source.code}",
            defaults={
                **task_fields,
                "task": PULL_TASK,
                "kwargs": f'{{"source_id": {source.id}}}',
                "enabled": source.is_active,
                "description": f"Pull {source.name} ({source.connector or 'no connector'})",
            },
        )
        if source.schedule_id != task.id:
            Source.objects.filter(id=source_id).update(schedule=task)
        return task.id


def source_delete(*, source_id: int) -> None:
    """Remove the source and its schedule (its runs go with it; records keep a null source)."""
    with transaction.atomic():
        source_schedule_set(source_id=source_id, schedule=None)
        Source.objects.filter(id=source_id).delete()
