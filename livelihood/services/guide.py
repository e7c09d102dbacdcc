"""The service guide (办事指南) and life events (一件事): versioned edits, publish and unpublish."""

from django.db import transaction
from django.utils import timezone

from datahub import facade
from livelihood.models import LifeEvent, LifeEventService, PublishStatus, Service, ServiceVersion

from .errors import LivelihoodError

GUIDE_FIELDS = [
    "name",
    "name_en",
    "department_id",
    "audience",
    "summary",
    "conditions",
    "materials",
    "steps",
    "fees",
    "legal_days",
    "promised_days",
    "mode",
    "locations",
    "hours",
    "legal_basis",
    "faq",
    "bookable",
]


def _snapshot(svc: Service) -> dict:
    return {f: getattr(svc, f) for f in GUIDE_FIELDS}


def _check_lists(fields: dict) -> None:
    for key in ("materials", "steps", "faq"):
        value = fields.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or len(value) > 200:
            raise LivelihoodError(f"{key}: a list (at most 200 items) is expected", field=key)
        for i, item in enumerate(value):
            if not isinstance(item, dict | str):
                raise LivelihoodError(f"{key}[{i}]: an object or text is expected", field=key)
            if key == "materials" and isinstance(item, dict) and not str(item.get("name") or "").strip():
                raise LivelihoodError(f"materials[{i}].name is required", field="materials")
    legal, promised = fields.get("legal_days"), fields.get("promised_days")
    if legal is not None and promised is not None and promised > legal:
        raise LivelihoodError("promised_days: cannot exceed the legal time limit", field="promised_days")


@transaction.atomic
def service_save(*, code: str, actor=None, note: str = "", **fields) -> Service:
    """Create a service or save a new version of it (a snapshot per version; published content stays live)."""
    unknown = set(fields) - set(GUIDE_FIELDS)
    if unknown:
        raise LivelihoodError(f"{sorted(unknown)[0]}: unknown field", field=sorted(unknown)[0])
    _check_lists(fields)
    svc = Service.objects.select_for_update().filter(code=code).first()
    if svc is None:
        if not fields.get("name"):
            raise LivelihoodError("name is required", field="name")
        if not fields.get("department_id"):
            raise LivelihoodError("department is required", field="department")
        svc = Service(code=code, version=0)
    changed = [k for k, v in fields.items() if getattr(svc, k, None) != v]
    if svc.pk and not changed:
        return svc
    for k, v in fields.items():
        setattr(svc, k, v)
    svc.version += 1
    svc.updated_by = actor if getattr(actor, "pk", None) else None
    svc.save()
    ServiceVersion.objects.create(
        service=svc, version=svc.version, data=_snapshot(svc), note=note[:300], created_by=svc.updated_by
    )
    facade.event_record(
        type="livelihood.service_saved",
        actor_id=getattr(actor, "pk", None),
        object_ref=f"livelihood:service:{svc.id}",
        payload={"code": svc.code, "version": svc.version, "fields": changed},
    )
    return svc


@transaction.atomic
def service_set_status(*, service_id: int, status: str, actor=None) -> Service:
    if status not in (PublishStatus.PUBLISHED, PublishStatus.UNPUBLISHED):
        raise LivelihoodError("status: publish or unpublish", field="status")
    svc = Service.objects.select_for_update().get(pk=service_id)
    if svc.status == status:
        return svc
    svc.status = status
    if status == PublishStatus.PUBLISHED:
        svc.published_at = timezone.now()
    svc.save(update_fields=["status", "published_at", "updated_at"])
    facade.event_record(
        type=f"livelihood.service_{'published' if status == PublishStatus.PUBLISHED else 'unpublished'}",
        actor_id=getattr(actor, "pk", None),
        object_ref=f"livelihood:service:{svc.id}",
        payload={"code": svc.code, "version": svc.version},
    )
    return svc


@transaction.atomic
def service_restore(*, service_id: int, version: int, actor=None) -> Service:
    """Make an earlier version current again (as a new version)."""
    old = ServiceVersion.objects.filter(service_id=service_id, version=version).first()
    if old is None:
        raise LivelihoodError(f"version: no version {version}", field="version", status=404)
    svc = Service.objects.get(pk=service_id)
    return service_save(code=svc.code, actor=actor, note=f"restored v{version}", **old.data)


@transaction.atomic
def life_event_save(
    *,
    code: str,
    name: str,
    name_en: str = "",
    description: str = "",
    service_codes: list[str],
    status: str = PublishStatus.PUBLISHED,
    order: int = 0,
) -> LifeEvent:
    services = {s.code: s for s in Service.objects.filter(code__in=service_codes)}
    missing = [c for c in service_codes if c not in services]
    if missing:
        raise LivelihoodError(f"services: unknown service {missing[0]!r}", field="services")
    le, _ = LifeEvent.objects.update_or_create(
        code=code,
        defaults={"name": name, "name_en": name_en, "description": description, "status": status, "order": order},
    )
    LifeEventService.objects.filter(life_event=le).delete()
    LifeEventService.objects.bulk_create(
        [LifeEventService(life_event=le, service=services[c], order=i) for i, c in enumerate(service_codes)]
    )
    return le
