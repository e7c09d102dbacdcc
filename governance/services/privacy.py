"""Personal data of case reporters: masked for the roles that do not handle the case
(governance.permissions.can_see_reporter), unmasked only by an explicit action that is logged
(PersonalDataAccess: who, which case, which fields, why, when, from where)."""

import re

from governance.models import Case, PersonalDataAccess
from governance.permissions import can_see_reporter
from governance.selectors.cases import case_visible_to
from governance.services.errors import CaseError

REPORTER_FIELDS = ("reporter_name", "reporter_phone", "reporter_email")


def mask_phone(value: str) -> str:
    """13800138000 -> 138****8000; short numbers keep their last two digits only."""
    digits = re.sub(r"\D", "", value or "")
    if not digits:
        return ""
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def mask_name(value: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***; John Smith -> J*** S****."""
    value = (value or "").strip()
    if not value:
        return ""
    if " " in value or value.isascii():
        return " ".join(w[0] + "*" * max(len(w) - 1, 1) for w in value.split())
    return value[0] + "*" * max(len(value) - 1, 1)


def mask_email(value: str) -> str:
    """li.ming@example.com -> l***@example.com."""
    if not value or "@" not in value:
        return "***" if value else ""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


MASKS = {"reporter_name": mask_name, "reporter_phone": mask_phone, "reporter_email": mask_email}


def reporter_for(*, user, case: Case) -> dict:
    """The reporter's fields as `user` may see them, and whether they are masked."""
    unmasked = can_see_reporter(user, case)
    out = {f: (getattr(case, f) if unmasked else MASKS[f](getattr(case, f))) for f in REPORTER_FIELDS}
    out["reporter_masked"] = not unmasked and any(getattr(case, f) for f in REPORTER_FIELDS)
    return out


def case_reporter_unmask(*, case_id: int, user, reason: str, channel: str = "api", ip: str | None = None) -> dict:
    """Show the reporter's name, phone and e-mail to a staff user who may open the case, and log it."""
    from cityos.roles import is_staff_role

    reason = (reason or "").strip()
    if not reason:
        raise CaseError("reason: say why you need the reporter's contact details", code="reason_required")
    case = case_visible_to(user).filter(pk=case_id).first() if is_staff_role(user) else None
    if case is None:
        raise CaseError("case: not found", code="not_found", status=404)
    fields = [f for f in REPORTER_FIELDS if getattr(case, f)]
    PersonalDataAccess.objects.create(
        case=case, user=user, fields=fields, reason=reason[:300], channel=channel, ip=ip or None
    )
    return {f: getattr(case, f) for f in REPORTER_FIELDS} | {"reporter_masked": False}
