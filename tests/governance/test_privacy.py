"""Reporter personal data (issue 11, item 5): masked for roles that do not handle the case; unmasking
is an explicit action, logged and visible to administrators. Assignees are staff (item 6)."""

import pytest
from rest_framework.test import APIClient

from cityos.roles import Role
from governance.models import Case, PersonalDataAccess
from governance.services.cases import case_create, case_transition
from governance.services.errors import CaseError
from governance.services.privacy import mask_email, mask_name, mask_phone
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_masks_keep_only_what_identifies_nobody():
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+86 138-0013-8000") == "861******8000"
    assert mask_phone("12345") == "***45"
    assert (mask_name("张三"), mask_name("欧阳娜娜"), mask_name("John Smith")) == ("张*", "欧***", "J*** S****")
    assert mask_email("li.ming@example.com") == "l***@example.com"
    assert (mask_phone(""), mask_name(""), mask_email("")) == ("", "", "")


@pytest.fixture
def case(city):
    return case_create(
        channel="hotline",
        title="楼下噪音太吵",
        lon=city.P1[0],
        lat=city.P1[1],
        reporter_name="张三",
        reporter_phone="13800138000",
        reporter_email="zhang@example.com",
    )


def _detail(user, case):
    client = APIClient()
    client.force_authenticate(user)
    return client, client.get(f"/api/v1/governance/cases/{case.id}/").json()


def test_the_handling_officer_and_the_hotline_see_the_reporter(city, case):
    assert case.department_id == city.urban.id
    for user in (city.officer, city.dispatcher):
        _, data = _detail(user, case)
        assert (data["reporter_name"], data["reporter_phone"], data["reporter_masked"]) == (
            "张三",
            "13800138000",
            False,
        )


@pytest.mark.parametrize("role", [Role.ANALYST, Role.GRID_WORKER])
def test_roles_that_do_not_handle_the_case_see_it_masked_in_the_api_and_the_page(client, city, case, role):
    user = make_user(role=role, department=city.urban)
    _, data = _detail(user, case)
    assert (data["reporter_name"], data["reporter_phone"], data["reporter_email"], data["reporter_masked"]) == (
        "张*",
        "138****8000",
        "z***@example.com",
        True,
    )
    client.force_login(user)
    page = client.get(f"/governance/cases/{case.id}/").content.decode()
    assert "13800138000" not in page and "张三" not in page
    assert "138****8000" in page and 'id="unmask-reporter"' in page


def test_unmasking_shows_the_reporter_and_is_logged_for_administrators(city, case):
    analyst = make_user(role=Role.ANALYST)
    client, _ = _detail(analyst, case)
    refused = client.post(f"/api/v1/governance/cases/{case.id}/reporter/", {"reason": " "}, format="json")
    assert refused.status_code == 400 and PersonalDataAccess.objects.count() == 0
    resp = client.post(f"/api/v1/governance/cases/{case.id}/reporter/", {"reason": "回访核实"}, format="json")
    assert resp.status_code == 200
    assert (resp.json()["reporter_phone"], resp.json()["reporter_masked"]) == ("13800138000", False)
    log = PersonalDataAccess.objects.get()
    assert (log.user_id, log.case_id, log.reason, log.channel) == (analyst.id, case.id, "回访核实", "api")
    assert log.fields == ["reporter_name", "reporter_phone", "reporter_email"]
    # The log is for administrators.
    assert client.get("/api/v1/governance/personal-data-access/").status_code == 403
    admin = APIClient()
    admin.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    rows = admin.get("/api/v1/governance/personal-data-access/").json()["results"]
    assert [(r["username"], r["tracking_number"]) for r in rows] == [(analyst.username, case.tracking_number)]


def test_unmasking_on_the_page_is_logged_too(client, city, case):
    grid = make_user(role=Role.GRID_WORKER, department=city.urban)
    client.force_login(grid)
    page = client.post(f"/governance/cases/{case.id}/reporter/", {"reason": "上门核实"}).content.decode()
    assert "13800138000" in page
    assert PersonalDataAccess.objects.get().channel == "page"


def test_a_case_outside_the_users_scope_cannot_be_unmasked(city, case):
    client, _ = _detail(city.env_officer, case)
    resp = client.post(f"/api/v1/governance/cases/{case.id}/reporter/", {"reason": "x"}, format="json")
    assert resp.status_code == 404 and PersonalDataAccess.objects.count() == 0


def test_a_case_is_never_assigned_to_an_external_developer(city, case):
    developer = make_user(role=Role.EXTERNAL_DEVELOPER, department=city.urban)
    with pytest.raises(CaseError) as exc:
        case_transition(
            case_id=case.id,
            action="reassign",
            actor=city.dispatcher,
            department_id=city.urban.id,
            assignee_id=developer.id,
        )
    assert exc.value.detail.code == "invalid_assignee"
    assert Case.objects.get(id=case.id).assignee_id != developer.id


def test_an_external_developer_given_a_department_still_sees_none_of_its_cases(city, case):
    developer = make_user(role=Role.EXTERNAL_DEVELOPER, department=city.urban)
    client = APIClient()
    client.force_authenticate(developer)
    assert client.get("/api/v1/governance/cases/").json()["results"] == []
    assert client.get(f"/api/v1/governance/cases/{case.id}/").status_code == 404


def test_an_external_developer_sees_the_case_they_filed_and_nothing_else(city, case):
    client = APIClient()
    client.force_authenticate(make_user(role=Role.EXTERNAL_DEVELOPER))
    created = client.post(
        "/api/v1/governance/cases/", {"title": "路灯不亮", "reporter_phone": "13900001111"}, format="json"
    )
    assert created.status_code == 201, created.content
    # Their own report: the receipt (number and the citizen's private link), no internals.
    assert created.json()["citizen_key"] and "transitions" not in created.json()
    assert [c["id"] for c in client.get("/api/v1/governance/cases/").json()["results"]] == [created.json()["id"]]
