"""Authorization fixes of issue 11 (items 4 and 6) that the access matrix does not show on its own:
assignee lists, moving an object to another department, rule previews, the event log's department."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cityos.roles import Role
from datahub.models import Alert, Event
from tests.datahub.core.factories import make_entity
from tests.datahub.monitoring.factories import make_rule
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept():
    return make_department()


@pytest.fixture
def alert(dept):
    rule = make_rule(department_id=dept.id)
    return Alert.objects.create(
        rule=rule, subject_key="s", department=dept, severity="major", title="PM2.5", raised_at=timezone.now()
    )


def api(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def test_an_external_developer_is_never_offered_or_accepted_as_an_alert_assignee(client, dept, alert):
    developer = make_user(role=Role.EXTERNAL_DEVELOPER, department=dept, username="dev-outsider")
    colleague = make_user(department=dept, username="colleague")
    officer = make_user(department=dept)
    client.force_login(officer)
    for page in ("/monitoring/", f"/monitoring/alerts/{alert.id}/"):
        html = client.get(page).content.decode()
        assert "colleague" in html and "dev-outsider" not in html
    refused = api(officer).post(f"/api/v1/datahub/alerts/{alert.id}/assign/", {"assignee": developer.id}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_assignee"
    bulk = api(officer).post(
        "/api/v1/datahub/alerts/bulk/", {"ids": [alert.id], "action": "assign", "assignee": developer.id}, format="json"
    )
    assert bulk.status_code == 400
    ok = api(officer).post(f"/api/v1/datahub/alerts/{alert.id}/assign/", {"assignee": colleague.id}, format="json")
    assert ok.status_code == 200 and ok.json()["assignee"] == colleague.id


def test_an_officer_cannot_move_a_rule_or_an_entity_to_another_department(dept):
    other = make_department()
    officer = make_user(department=dept)
    rule = make_rule(department_id=dept.id)
    entity = make_entity(department=dept)
    moved = api(officer).patch(f"/api/v1/datahub/alert-rules/{rule.id}/", {"department": other.id}, format="json")
    assert moved.status_code == 403
    moved = api(officer).patch(f"/api/v1/datahub/entities/{entity.id}/", {"department": other.id}, format="json")
    assert moved.status_code == 403
    to_city = api(officer).patch(f"/api/v1/datahub/alert-rules/{rule.id}/", {"department": None}, format="json")
    assert to_city.status_code == 403


def test_only_monitoring_managers_preview_new_rules(dept):
    body = {"kind": "threshold", "params": {"op": ">", "threshold": 1, "duration_s": 0}, "metric": "pm25"}
    for role, status in ((Role.GRID_WORKER, 403), (Role.EXTERNAL_DEVELOPER, 403), (Role.DEPARTMENT_OFFICER, 200)):
        resp = api(make_user(role=role, department=dept)).post(
            "/api/v1/datahub/alert-rules/preview/", body, format="json"
        )
        assert resp.status_code == status, role


def test_the_rule_editor_page_refuses_a_grid_worker_and_a_city_wide_rule_from_an_officer(client, dept):
    client.force_login(make_user(role=Role.GRID_WORKER, department=dept))
    assert client.get("/monitoring/rules/new/").status_code == 403
    client.force_login(make_user(department=dept))
    form = {
        "name": "city",
        "kind": "threshold",
        "severity": "major",
        "metric": "pm25",
        "params": '{"op": ">", "threshold": 1, "duration_s": 0}',
    }
    assert client.post("/monitoring/rules/new/", form).status_code == 403


def test_case_events_carry_their_department():
    from governance.services.cases import case_create
    from tests.governance.factories import MiniCity

    city = MiniCity()
    case = case_create(channel="hotline", title="楼下噪音太吵", lon=city.P1[0], lat=city.P1[1])
    events = list(Event.objects.filter(object_ref=f"governance:case:{case.id}").order_by("id"))
    # Received by the hotline centre, then the department it was dispatched to.
    assert events[0].department_id == city.hotline.id
    assert case.department_id == city.urban.id and events[-1].department_id == city.urban.id
