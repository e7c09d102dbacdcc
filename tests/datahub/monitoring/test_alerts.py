"""The alert lifecycle, the domain events it publishes and consumes, and event-count rules."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from cityos import bus
from datahub import facade
from datahub.models import Alert, AlertHistory, Area, Event
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services.cases import on_case_closed
from datahub.monitoring.services.evaluate import event_rules_evaluate, on_observations
from tests.datahub.monitoring.factories import make_rule
from tests.factories import make_user

pytestmark = pytest.mark.django_db
OBS = {"datastream_id": 9, "metric": "pm25", "device_type": "air", "area_id": None, "subject_id": None}


@pytest.fixture
def captured(monkeypatch):
    """Domain events published to subscribers, as (event type, payload)."""
    monkeypatch.setattr(bus, "_subscribers", bus._subscribers.copy())
    monkeypatch.setitem(bus._subscribers, "monitoring.alert_raised", ["tests.datahub.monitoring.test_alerts._collect"])
    _collected.clear()
    return _collected


_collected: list = []


def _collect(payload):
    _collected.append(payload)


def test_it_keeps_one_open_alert_per_rule_and_subject(department):
    rule = make_rule(params={"threshold": 100}, department_id=department.id)
    now = timezone.now()
    a1, created1 = svc.alert_raise(rule=rule, subject_key="ds:1", at=now, value=120)
    a2, created2 = svc.alert_raise(rule=rule, subject_key="ds:1", at=now + timedelta(minutes=1), value=130)
    assert (created1, created2) == (True, False)
    assert a1.id == a2.id
    a2.refresh_from_db()
    assert a2.value == 130
    svc.alert_clear(alert=a1, reason="recovered")
    a3, created3 = svc.alert_raise(rule=rule, subject_key="ds:1", at=now + timedelta(hours=1), value=140)
    assert created3 and a3.id != a1.id


def test_it_publishes_alert_raised_with_the_agreed_payload_after_commit(
    department, captured, django_capture_on_commit_callbacks
):
    area = Area.objects.create(code="a9", name="区", level="district", centroid="SRID=4326;POINT(116.4 39.9)")
    rule = make_rule(params={"threshold": 100}, department_id=department.id, open_case=True, area_id=area.id)
    # A live reading (a minute ago): history would raise a historical alert that publishes nothing.
    at = (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        on_observations([{**OBS, "area_id": area.id, "time": at.isoformat(), "value": 180}])
    alert = Alert.objects.get()
    assert captured == [
        {
            "alert_id": alert.id,
            "rule_name": rule.name,
            "severity": "major",
            "title": alert.title,
            "description": "",
            "lon": pytest.approx(116.4),
            "lat": pytest.approx(39.9),
            "area_id": area.id,
            "department_id": department.id,
            "raised_at": at.astimezone(UTC).isoformat(),
            "open_case": True,
            "rule_id": rule.id,
            "category_code": "",
        }
    ]


def test_it_records_raise_and_clear_as_datahub_events(department):
    make_rule(params={"threshold": 100})
    on_observations([{**OBS, "time": 0.0, "value": 150}, {**OBS, "time": 60.0, "value": 50}])
    alert = Alert.objects.get()
    types = list(Event.objects.order_by("occurred_at", "id").values_list("type", "object_ref"))
    assert types == [("alert.raised", f"datahub:alert:{alert.id}"), ("alert.cleared", f"datahub:alert:{alert.id}")]


def test_it_acknowledges_assigns_and_comments_with_history(department):
    rule = make_rule(params={"threshold": 1})
    officer, colleague = make_user(department=department), make_user(department=department)
    alert, _ = svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=2)
    assert svc.alert_acknowledge(alert=alert, actor=officer) is True
    assert svc.alert_acknowledge(alert=alert, actor=officer) is False
    svc.alert_assign(alert=alert, actor=officer, assignee=colleague)
    svc.alert_comment(alert=alert, actor=officer, text="sent a crew")
    alert.refresh_from_db()
    assert alert.acknowledged and alert.acknowledged_by == officer and alert.assignee == colleague
    assert list(alert.history.values_list("action", flat=True)) == ["raised", "acknowledged", "assigned", "commented"]
    with pytest.raises(ValueError, match="text"):
        svc.alert_comment(alert=alert, actor=officer, text="  ")


def test_it_links_and_clears_the_alert_when_its_case_closes():
    rule = make_rule(params={"threshold": 1}, open_case=True, clear_on_case_close=True)
    alert, _ = svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=2)
    assert "datahub.facade.origin_case_closed" in bus.subscribers("governance.case_closed")
    on_case_closed({"case_id": 77, "tracking_number": "C-2026-77", "origin": {"kind": "alert", "id": alert.id}})
    alert.refresh_from_db()
    assert (alert.case_id, alert.case_tracking_number, alert.status, alert.clear_reason) == (
        77,
        "C-2026-77",
        "cleared",
        "case_closed",
    )


def test_it_only_links_when_the_rule_does_not_clear_on_case_close():
    rule = make_rule(params={"threshold": 1}, open_case=True, clear_on_case_close=False)
    alert, _ = svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=2)
    on_case_closed({"case_id": 5, "tracking_number": "C5", "origin": {"kind": "alert", "id": alert.id}})
    on_case_closed({"case_id": 6, "tracking_number": "C6", "origin": {"kind": "call", "id": alert.id}})
    on_case_closed({"case_id": 7, "tracking_number": "C7", "origin": None})
    alert.refresh_from_db()
    assert (alert.case_id, alert.status) == (5, "active")


def test_it_raises_an_event_count_alert_when_events_are_recorded_and_clears_when_the_window_passes(
    django_capture_on_commit_callbacks,
):
    district = Area.objects.create(code="d", name="区", level="district")
    street = Area.objects.create(code="s", name="街", level="street", parent=district)
    make_rule(
        name="Noise complaints",
        kind="event_count",
        metric="",
        params={"event_type": "complaint.noise", "window_s": 3600, "count": 3, "clear_count": 2},
        area_id=district.id,
    )
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            facade.event_record(type="complaint.noise", area_id=street.id, occurred_at=now - timedelta(minutes=30 - i))
    alert = Alert.objects.get()
    assert (alert.subject_key, alert.value, alert.area_id) == (f"area:{street.id}", 3.0, street.id)
    # The beat task, 31 minutes later: the first two events have left the window -> cleared.
    assert event_rules_evaluate(now=now + timedelta(minutes=31)) == 1
    alert.refresh_from_db()
    assert alert.status == "cleared"
    assert AlertHistory.objects.filter(alert=alert, action="cleared").exists()


def test_it_titles_an_alert_in_words_not_codes(department):
    """The alert title names the area and the event type by their labels, never `area:<id>` or
    `complaint.noise` (issue 18: no raw codes on the staff pages)."""
    area = Area.objects.create(code="a7", name="江南区", level="district", centroid="SRID=4326;POINT(116.4 39.9)")
    rule = make_rule(
        name="噪声投诉激增",
        kind="event_count",
        metric="",
        params={"event_type": "complaint.noise", "count": 5, "window_s": 3600},
        department_id=department.id,
    )
    alert, _created = svc.alert_raise(
        rule=rule, subject_key=f"area:{area.id}", at=timezone.now(), value=23, area_id=area.id
    )
    assert "江南区" in alert.title and str(rule.get_kind_display()) in alert.title
    assert f"area:{area.id}" not in alert.title and "complaint.noise" not in alert.title
