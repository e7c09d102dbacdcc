"""Translated labels for the codes the apps store: statuses, workflow actions, channels, roles and
event types. Pages never show a code: they show `status_label("dispatched")` -> 已派单 / Dispatched.

Apps register their own codes at start-up (`labels_register("status", Status.choices)`); the shell
registers roles and the event types of the datahub and the wings. An unknown event type is shown
as its family's label and the translated verb ("工单 · 超期"), never as the raw code.
"""

from django.utils.translation import gettext_lazy as _

from cityos.roles import Role

_REGISTRY: dict[str, dict[str, object]] = {"status": {}, "action": {}, "channel": {}, "event": {}, "role": {}}


def labels_register(kind: str, choices) -> None:
    """Add codes and their (lazy) labels: a mapping or a list of (code, label) pairs."""
    items = choices.items() if isinstance(choices, dict) else choices
    _REGISTRY.setdefault(kind, {}).update({str(code): label for code, label in items})


_PROVIDERS: dict[str, object] = {}


def labels_provider_register(kind: str, provider) -> None:
    """For codes an app keeps in its own tables (case categories): `provider(code)` returns the
    label in the active language, or None when it does not know the code."""
    _PROVIDERS[kind] = provider


def label_of(kind: str, code) -> str:
    """The label of a code of one kind: registered labels, then the kind's provider, then any
    code's label (`code_label`). Never the bare code when someone knows a name for it."""
    found = _lookup(kind, code)
    if found:
        return found
    provider = _PROVIDERS.get(kind)
    if provider is not None and code:
        found = provider(str(code))
        if found:
            return str(found)
    return code_label(code)


def known_codes(kinds: tuple[str, ...] = ("status", "action", "channel", "event", "role")) -> set[str]:
    """Every registered code (for the test that fails on codes rendered as text)."""
    return {code for kind in kinds for code in _REGISTRY.get(kind, {})}


def _lookup(kind: str, code) -> str | None:
    label = _REGISTRY.get(kind, {}).get(str(code or ""))
    return str(label) if label is not None else None


def status_label(code) -> str:
    return _lookup("status", code) or _lookup("action", code) or _humanize(code)


def action_label(code) -> str:
    return _lookup("action", code) or _lookup("status", code) or _humanize(code)


def channel_label(code) -> str:
    return _lookup("channel", code) or _humanize(code)


def role_label(code) -> str:
    return _lookup("role", code) or _humanize(code)


def event_label(code) -> str:
    """`case.overdue` -> 工单超期; `alert.raised` -> 告警触发; unknown `x.y_z` -> family · verb."""
    code = str(code or "")
    found = _lookup("event", code)
    if found:
        return found
    family, _sep, verb = code.partition(".")
    fam = _lookup("event", family + ".*")
    verb_label = _lookup("action", verb) or _lookup("status", verb) or _lookup("event", "*." + verb)
    if fam and verb_label:
        return f"{fam} · {verb_label}"
    return fam or verb_label or _humanize(code)


def code_label(code) -> str:
    """Any code, whichever kind it is (for generic tables and facets): the registered labels, then
    the label of any choice of the project's models with that value (device types, entity types…)."""
    for kind in ("status", "action", "channel", "role", "event"):
        found = _lookup(kind, code)
        if found:
            return found
    found = _choice_labels().get(str(code or ""))
    if found is not None:
        return str(found)
    return event_label(code) if "." in str(code or "") else _humanize(code)


_PROJECT_APPS = ("cityos", "datahub", "governance", "industry", "livelihood")
_choices: dict[str, object] = {}


def _choice_labels() -> dict[str, object]:
    """{value: lazy label} over the choices of every model field of the project (first one wins)."""
    if not _choices:
        from django.apps import apps

        for model in apps.get_models():
            if model._meta.app_label not in _PROJECT_APPS:
                continue
            for field in model._meta.get_fields():
                for value, label in getattr(field, "flatchoices", None) or []:
                    if isinstance(value, str) and value:
                        _choices.setdefault(value, label)
    return _choices


def _humanize(code) -> str:
    # Last resort for a code nobody registered: words, not identifiers ("in_progress" -> "In progress").
    text = str(code or "").replace("_", " ").replace(".", " · ").strip()
    return text[:1].upper() + text[1:]


def labels_for(kind: str) -> dict[str, str]:
    """{code: label} of one kind in the active language (for a page's script)."""
    return {code: str(label) for code, label in _REGISTRY.get(kind, {}).items()}


labels_register("role", Role.choices)
# Event families (an unknown verb of a known family reads "工单 · <verb>") and the event types of
# the datahub and the wings (what the live feed and the event lists show).
labels_register(
    "event",
    {
        "case.*": _("Case"),
        "alert.*": _("Alert"),
        "industry.*": _("Enterprise"),
        "livelihood.*": _("Public service"),
        "entity.*": _("Entity"),
        "analysis.*": _("Situation"),
        "datahub.*": _("Data"),
        "ngsild.*": _("NGSI-LD entity"),
        "governance.*": _("Case"),
        "monitoring.*": _("Alert"),
        "case.received": _("Case received"),
        "case.dispatch": _("Case dispatched"),
        "case.reassign": _("Case reassigned"),
        "case.accept": _("Case accepted"),
        "case.start": _("Case work started"),
        "case.suspend": _("Case suspended"),
        "case.resume": _("Case resumed"),
        "case.resolve": _("Case resolved"),
        "case.return": _("Case returned"),
        "case.reject": _("Case rejected"),
        "case.verify": _("Case verified"),
        "case.close": _("Case closed"),
        "case.reopen": _("Case reopened"),
        "case.merge": _("Case merged"),
        "case.answer": _("Call answered directly"),
        "case.rated": _("Case rated"),
        "case.recategorised": _("Case recategorised"),
        "case.overdue": _("Case overdue"),
        "case.supervised": _("Supervision order issued"),
        "case.attachment_added": _("Attachment added"),
        "case.import": _("Case imported"),
        "governance.case_created": _("Case received"),
        "governance.case_updated": _("Case updated"),
        "governance.case_overdue": _("Case overdue"),
        "governance.sla_warning": _("Case due soon"),
        "governance.supervision_issued": _("Supervision order issued"),
        "governance.supervision_overdue": _("Supervision order overdue"),
        "alert.raised": _("Alert raised"),
        "alert.cleared": _("Alert cleared"),
        "alert.escalated": _("Alert escalated"),
        "alert.acknowledged": _("Alert acknowledged"),
        "alert.changed": _("Alert changed"),
        "entity.merged": _("Entities merged"),
        "entity.split": _("Entity split"),
        "industry.enterprise_registered": _("Enterprise registered"),
        "industry.enterprise_updated": _("Enterprise updated"),
        "industry.risk_raised": _("Enterprise risk raised"),
        "industry.licence_added": _("Licence added"),
        "industry.grant_proposed": _("Grant proposed"),
        "industry.grant_applied": _("Grant applied for"),
        "industry.policy_matched": _("Policy matched"),
        "industry.appeal_submitted": _("Enterprise appeal submitted"),
        "industry.appeal_status": _("Enterprise appeal updated"),
        "industry.appeal_rated": _("Enterprise appeal rated"),
        "livelihood.report_submitted": _("Citizen report submitted"),
        "livelihood.report_closed": _("Citizen report closed"),
        "livelihood.rating_given": _("Service rated"),
        "livelihood.rating_replied": _("Rating answered"),
        "livelihood.notice_published": _("Notice published"),
        "livelihood.facility_updated": _("Facility updated"),
        "livelihood.service_saved": _("Service saved"),
        "livelihood.appointment_booked": _("Appointment booked"),
        "livelihood.appointment_cancelled": _("Appointment cancelled"),
        "livelihood.appointment_rescheduled": _("Appointment rescheduled"),
        "analysis.situation_detected": _("Situation detected"),
        "analysis.situation_confirmed": _("Situation confirmed"),
        "analysis.situation_dismissed": _("Situation dismissed"),
        "datahub.dataset_imported": _("Dataset imported"),
        "opinion.negative_spike": _("Negative opinion spike"),
        "service_request.created": _("Service request received"),
        "facility.inspected": _("Facility inspected"),
        "incident.violent_crime": _("Violent crime reported"),
        "ngsild.entity_created": _("NGSI-LD entity created"),
        "ngsild.entity_updated": _("NGSI-LD entity updated"),
        "ngsild.entity_deleted": _("NGSI-LD entity deleted"),
    },
)
