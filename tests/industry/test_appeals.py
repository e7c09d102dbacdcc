"""Appeal → case → closure → appeal closed, through the real domain-event path (governance's
subscriber opens the case; its case events come back to industry's subscribers)."""

import pytest

from cityos.roles import Role
from datahub.models import Event
from governance.models import Case
from governance.services.cases import case_transition
from industry.models import Appeal
from tests.factories import make_user
from tests.industry.factories import make_enterprise, make_member

pytestmark = pytest.mark.django_db


def test_an_appeal_becomes_a_case_and_its_closure_closes_the_appeal(
    city, api_client, django_capture_on_commit_callbacks
):
    ent = make_enterprise(lon=120.01, lat=30.01, address="江南区长安街道1号")
    user = make_user(role=Role.ENTERPRISE_USER)
    make_member(ent, user)
    api_client.force_authenticate(user)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            "/api/v1/industry/appeals/",
            {
                "enterprise": ent.id,
                "title": "厂区门口道路噪音扰民",
                "description": "夜间施工噪音很大，影响员工休息",
                "category": city.noise.code,
            },
            format="json",
        )
    assert r.status_code == 201, r.content
    appeal = Appeal.objects.get(id=r.json()["id"])
    case = Case.objects.get(origin_ref=f"appeal:{appeal.id}")
    assert case.channel == "enterprise" and case.category_id == city.noise.id
    assert appeal.case_id == case.id and appeal.tracking_number == case.tracking_number
    # governance dispatched it by its own rules (noise in 江南区 → 城管局): the appeal is accepted
    assert case.status == "dispatched" and appeal.status == "accepted"
    for action in ("accept", "start"):
        with django_capture_on_commit_callbacks(execute=True):
            case_transition(case_id=case.id, action=action, actor=city.officer, note="")
    appeal.refresh_from_db()
    assert appeal.status == "in_progress" and appeal.department_id == city.urban.id
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(case_id=case.id, action="resolve", actor=city.officer, note="已协调施工方夜间停工")
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(case_id=case.id, action="close", actor=city.dispatcher, note="已协调施工方夜间停工")
    appeal.refresh_from_db()
    assert appeal.status == "closed" and appeal.closed_at is not None
    assert ent.notices.filter(title__contains=appeal.title).count() == 2  # resolved, then closed
    assert [h.to_status for h in appeal.history.all()] == ["submitted", "accepted", "in_progress", "resolved", "closed"]
    assert Event.objects.filter(type="industry.appeal_status", subject_id=ent.entity_id).count() == 4
    # satisfaction at the end, once, by the enterprise's own user
    r = api_client.post(f"/api/v1/industry/appeals/{appeal.id}/rate/", {"rating": 5, "comment": "很快"}, format="json")
    assert r.status_code == 200 and r.json()["rating"] == 5
    assert (
        api_client.post(f"/api/v1/industry/appeals/{appeal.id}/rate/", {"rating": 4}, format="json").status_code == 409
    )


def test_case_events_of_other_origins_are_ignored():
    from industry.subscribers import on_case_updated

    assert on_case_updated({"origin": {"kind": "portal_report", "id": 1}, "status": "closed"}) is None
    assert on_case_updated({"origin": None, "status": "closed"}) is None


def test_only_the_enterprises_own_users_may_appeal(api_client):
    ent = make_enterprise()
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    r = api_client.post(
        "/api/v1/industry/appeals/", {"enterprise": ent.id, "title": "x", "description": "y"}, format="json"
    )
    assert r.status_code == 403
    stranger = make_user(role=Role.ENTERPRISE_USER)
    api_client.force_authenticate(stranger)
    r = api_client.post(
        "/api/v1/industry/appeals/", {"enterprise": ent.id, "title": "x", "description": "y"}, format="json"
    )
    assert r.status_code == 404


def test_rating_an_open_appeal_is_refused(api_client):
    ent = make_enterprise()
    user = make_user(role=Role.ENTERPRISE_USER)
    make_member(ent, user)
    api_client.force_authenticate(user)
    appeal_id = api_client.post(
        "/api/v1/industry/appeals/", {"enterprise": ent.id, "title": "x", "description": "y"}, format="json"
    ).json()["id"]
    r = api_client.post(f"/api/v1/industry/appeals/{appeal_id}/rate/", {"rating": 3}, format="json")
    assert r.status_code == 409
    r = api_client.post(f"/api/v1/industry/appeals/{appeal_id}/rate/", {"rating": 9}, format="json")
    assert r.status_code == 400 and "rating" in r.json()["error"]["message"]
