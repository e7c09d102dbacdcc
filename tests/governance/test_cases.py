import re

import pytest

from datahub.models import Event
from governance.models import Case, CaseTransition
from governance.services.cases import case_create, case_merge, case_rate, case_transition
from governance.services.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from tests.factories import make_user
from tests.governance.factories import local

pytestmark = pytest.mark.django_db


def _noise(city, **kw):
    return case_create(
        channel="hotline",
        title="楼下酒吧噪音太吵",
        description="每天夜里音乐声很大",
        lon=city.P1[0],
        lat=city.P1[1],
        **kw,
    )


def test_it_gives_every_case_a_daily_tracking_number(city):
    at = local(2026, 11, 24, 10, 0)
    a = case_create(channel="api", title="路灯不亮", now=at, auto_dispatch=False)
    b = case_create(channel="api", title="路灯不亮", now=at, auto_dispatch=False)
    assert re.fullmatch(r"BJ20261124-\d{6}", a.tracking_number)
    assert int(b.tracking_number[-6:]) == int(a.tracking_number[-6:]) + 1


def test_it_classifies_locates_and_dispatches_on_intake(city):
    case = _noise(city)
    assert case.category_id == city.noise.id
    assert case.classification["source"] == "rules" and case.classification["confidence"] > 0.5
    assert (case.district_id, case.street_id, case.grid_id, case.area_id) == (
        city.district.id,
        city.street.id,
        city.grid1.id,
        city.grid1.id,
    )
    assert case.status == "dispatched" and case.department_id == city.urban.id
    assert "rule #" in case.dispatch_explanation["reason"]


def test_it_records_every_transition_and_a_datahub_event(city):
    case = _noise(city)
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="已协调店家降低音量")
    actions = list(CaseTransition.objects.filter(case=case).values_list("action", flat=True))
    assert actions == ["receive", "dispatch", "accept", "resolve"]
    types = set(Event.objects.filter(object_ref=f"governance:case:{case.id}").values_list("type", flat=True))
    assert {"case.received", "case.dispatch", "case.accept", "case.resolve"} <= types
    ev = Event.objects.get(object_ref=f"governance:case:{case.id}", type="case.resolve")
    assert ev.payload["category"] == city.noise.code and ev.payload["department"] == city.urban.id
    assert ev.area_id == city.grid1.id


def test_it_logs_a_backdated_case_at_its_own_times_in_the_datahub(city):
    # The demo's month of history and imported backlogs pass `now`: the event log (what trends,
    # briefings and efficiency read) must carry those times, not the day the rows were written.
    received = local(2026, 10, 3, 9, 0)
    case = _noise(city, now=received)
    case_transition(case_id=case.id, action="accept", actor=city.officer, now=local(2026, 10, 3, 11, 0))
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="已处理", now=local(2026, 10, 4, 8, 0))
    case_rate(tracking_number=case.tracking_number, rating=5, now=local(2026, 10, 5, 8, 0))
    at = dict(Event.objects.filter(object_ref=f"governance:case:{case.id}").values_list("type", "occurred_at"))
    assert at["case.received"] == received
    assert at["case.dispatch"] == received  # auto-dispatched on intake, at intake time
    assert at["case.accept"] == local(2026, 10, 3, 11, 0)
    assert at["case.resolve"] == local(2026, 10, 4, 8, 0)
    assert at["case.rated"] == local(2026, 10, 5, 8, 0)


def test_it_refuses_a_transition_from_the_wrong_state(city):
    case = _noise(city)
    with pytest.raises(TransitionNotAllowed):
        case_transition(case_id=case.id, action="close", actor=city.dispatcher)


def test_it_refuses_officers_of_another_department(city):
    case = _noise(city)
    with pytest.raises(CasePermissionDenied):
        case_transition(case_id=case.id, action="accept", actor=city.env_officer)


def test_it_lets_only_dispatchers_reassign(city):
    case = _noise(city)
    with pytest.raises(CasePermissionDenied):
        case_transition(case_id=case.id, action="reassign", actor=city.officer, department_id=city.env.id)
    case = case_transition(case_id=case.id, action="reassign", actor=city.dispatcher, department_id=city.env.id)
    assert case.department_id == city.env.id and case.dispatch_explanation["manual"] is True


def test_it_sends_a_returned_case_back_to_the_dispatcher(city):
    case = _noise(city)
    with pytest.raises(CaseError):
        case_transition(case_id=case.id, action="return", actor=city.officer)
    case = case_transition(case_id=case.id, action="return", actor=city.officer, note="不属于我局职责")
    assert case.status == "returned" and case.assignee_id is None
    case = case_transition(case_id=case.id, action="dispatch", actor=city.dispatcher, department_id=city.env.id)
    assert case.status == "dispatched" and case.department_id == city.env.id


def test_it_pauses_the_sla_clock_while_suspended(city):
    mon9 = local(2026, 11, 23, 9, 0)
    case = _noise(city, now=mon9)
    due = case.due_at
    case_transition(case_id=case.id, action="accept", actor=city.officer, now=mon9)
    case_transition(case_id=case.id, action="suspend", actor=city.officer, note="等待业主回家", now=mon9)
    # Suspended Mon 9:00 -> Tue 9:00: 9 working hours (one full working day).
    tue9 = local(2026, 11, 24, 9, 0)
    case = case_transition(case_id=case.id, action="resume", actor=city.officer, now=tue9)
    assert case.status == "accepted"
    assert case.due_at > due and case.suspended_seconds == 24 * 3600
    from governance.services.calendar import working_hours_between

    assert working_hours_between(start=due, end=case.due_at) == pytest.approx(9.0)


def test_it_publishes_case_closed_for_the_origin(city, monkeypatch):
    from cityos import bus

    got = []
    monkeypatch.setitem(bus._subscribers, "governance.case_closed", ["tests.governance.test_cases._collect"])
    monkeypatch.setattr("tests.governance.test_cases.COLLECTED", got)
    with django_capture():
        case = case_create(channel="alert", title="PM2.5 超标", origin="alert", origin_ref="alert:17")
        case = case_transition(case_id=case.id, action="dispatch", actor=None, department_id=city.env.id)
        for action in ("accept", "resolve"):
            case_transition(case_id=case.id, action=action, actor=city.env_officer, note="ok")
        case_transition(case_id=case.id, action="close", actor=city.dispatcher)
    assert len(got) == 1
    assert {k: got[0][k] for k in ("case_id", "tracking_number", "origin", "action", "from_status", "status")} == {
        "case_id": case.id,
        "tracking_number": case.tracking_number,
        "origin": {"kind": "alert", "id": 17},
        "action": "close",
        "from_status": "resolved",
        "status": "closed",
    }


COLLECTED: list = []


def _collect(payload):
    COLLECTED.append(payload)


def django_capture():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_it_merges_a_duplicate_into_the_primary(city):
    a, b = _noise(city), _noise(city)
    b = case_merge(primary_id=a.id, duplicate_id=b.id, actor=city.dispatcher)
    assert b.status == "merged" and b.merged_into_id == a.id
    with pytest.raises(CaseError):
        case_merge(primary_id=a.id, duplicate_id=a.id, actor=city.dispatcher)


def test_it_reopens_a_case_rated_low(city):
    case = _noise(city)
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="done")
    case = case_rate(tracking_number=case.tracking_number, rating=1, comment="根本没解决")
    assert case.status == "dispatched" and case.reopen_count == 1 and case.rating == 1


def test_it_keeps_a_good_rating_without_reopening(city):
    case = _noise(city)
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="done")
    case = case_rate(tracking_number=case.tracking_number, rating=5, comment="很满意")
    assert case.status == "resolved" and case.rating == 5
    with pytest.raises(TransitionNotAllowed):
        case_rate(tracking_number=case.tracking_number, rating=4)


def test_it_is_idempotent_on_origin_ref(city):
    a = case_create(channel="alert", title="水位超警戒", origin_ref="alert:5")
    b = case_create(channel="alert", title="水位超警戒", origin_ref="alert:5")
    assert a.id == b.id and Case.objects.filter(origin_ref="alert:5").count() == 1


def test_it_lets_a_grid_worker_handle_cases_of_their_grid(city):
    from governance.models import GridAssignment

    GridAssignment.objects.create(grid=city.grid1, worker=city.grid_worker)
    case = _noise(city)
    case_transition(case_id=case.id, action="accept", actor=city.grid_worker)
    other = case_create(channel="api", title="噪音", lon=city.P2[0], lat=city.P2[1])
    with pytest.raises(CasePermissionDenied):
        case_transition(case_id=other.id, action="accept", actor=city.grid_worker)


def test_it_balances_load_among_officers(city):
    first = _noise(city)
    second = _noise(city)
    assert {first.assignee_id, second.assignee_id} == {city.officer.id, city.officer2.id}
    assert second.dispatch_explanation["candidates"][0]["open_cases"] == 0


def test_it_denies_anonymous_and_external_users(city):
    case = _noise(city)
    dev = make_user(role="external_developer")
    with pytest.raises(CasePermissionDenied):
        case_transition(case_id=case.id, action="accept", actor=dev)


def test_it_opens_a_case_requested_by_another_app_once_and_reports_progress_with_its_origin(city, monkeypatch):
    """The wings' contract: case.requested in, governance.case_* out, matched by the structured origin."""
    from cityos import bus

    got = []
    monkeypatch.setattr("tests.governance.test_cases.COLLECTED", got)
    for event in ("governance.case_created", "governance.case_updated", "governance.case_closed"):
        monkeypatch.setitem(bus._subscribers, event, ["tests.governance.test_cases._collect"])
    request = {
        "origin": {"kind": "appeal", "id": 7},
        "channel": "enterprise",
        "title": "园区道路积水影响货车进出",
        "description": "企业诉求",
        "category": city.litter.code,
        "department_id": city.env.id,
        "lon": 120.01,
        "lat": 30.01,
    }
    with django_capture():
        bus.publish("case.requested", request)
    with django_capture():
        bus.publish("case.requested", request)  # redelivered: no second case
    cases = Case.objects.filter(origin_ref="appeal:7")
    assert cases.count() == 1
    case = cases.get()
    assert (case.channel, case.category_id, case.department_id, case.status) == (
        "enterprise",
        city.litter.id,
        city.env.id,
        "dispatched",
    )
    with django_capture():
        for action in ("accept", "resolve"):
            case_transition(case_id=case.id, action=action, actor=city.env_officer, note="已疏通")
        case_transition(case_id=case.id, action="close", actor=city.dispatcher, note="办结")
    assert {p["origin"]["kind"] for p in got} == {"appeal"} and {p["origin"]["id"] for p in got} == {7}
    assert [p["action"] for p in got if p["action"] != "receive"] == [
        "dispatch",
        "accept",
        "resolve",
        "close",
        "close",
    ]  # case_updated for every step, and case_closed once at the end
    assert got[-1]["status"] == "closed" and got[-1]["note"] == "办结"


def test_it_ignores_a_case_request_without_an_origin(city):
    from governance.subscribers import on_case_requested

    assert on_case_requested({"title": "无来源", "channel": "portal"}) is None
    assert on_case_requested({"origin": {"kind": "x:y", "id": 1}, "title": "坏来源"}) is None
