"""The domain events external applications may subscribe to, and what each delivery carries.

Every event is an envelope:

    {"id": "<uuid>", "event": "case.created", "occurred_at": "…", "area_id": 12,
     "category": "noise", "severity": null, "data": {…}}

`data` holds only the fields listed here (never personal data, never internal notes). Events
marked `restricted` reach only applications an administrator granted their owner's access
(ApiApplication.access_level = owner); the others reach every approved application.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class EventType:
    code: str
    label: object
    restricted: bool
    fields: tuple[str, ...]


EVENTS: dict[str, EventType] = {
    e.code: e
    for e in (
        EventType(
            "case.created",
            _("Case created"),
            True,
            ("case_id", "tracking_number", "status", "channel", "priority", "category", "department"),
        ),
        EventType(
            "case.updated",
            _("Case updated"),
            True,
            ("case_id", "tracking_number", "action", "from_status", "status", "category", "department"),
        ),
        EventType(
            "case.closed",
            _("Case closed"),
            True,
            ("case_id", "tracking_number", "action", "status", "category", "department"),
        ),
        EventType(
            "dataset.updated",
            _("Dataset updated"),
            False,
            ("dataset_id", "slug", "title", "version", "added", "changed", "removed"),
        ),
        EventType(
            "alert.raised",
            _("Alert raised"),
            True,
            ("alert_id", "rule_id", "severity", "value", "title", "department_id"),
        ),
        EventType(
            "alert.cleared",
            _("Alert cleared"),
            True,
            ("alert_id", "rule_id", "severity", "value", "title", "department_id"),
        ),
        EventType("notice.published", _("Notice published"), False, ("notice_id", "areas", "pinned")),
    )
}
# A "send test" delivery: goes out once even to a disabled subscription, never counts towards disabling.
TEST_EVENT = "subscription.test"
# Lowest to highest, as the monitoring rules grade alerts.
SEVERITIES = ("info", "warning", "minor", "major", "critical")


def event_choices() -> list[tuple[str, object]]:
    return [(e.code, e.label) for e in EVENTS.values()]


def data_for(code: str, raw: dict) -> dict:
    return {k: raw.get(k) for k in EVENTS[code].fields if k in raw}
