import pytest

from cityos.roles import Role
from datahub import facade
from datahub.models import EntityIdentifier, Event
from industry.models import Enterprise
from industry.services.common import uscc_clean
from industry.services.errors import IndustryError
from tests.factories import make_department, make_user
from tests.industry.factories import make_enterprise, make_uscc

pytestmark = pytest.mark.django_db

VALID = "91110000600037341L"  # a published code, check digit L


def test_it_accepts_a_valid_uscc_and_compacts_it():
    assert uscc_clean(" 9111 0000 6000 3734 1L ") == VALID


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91110000600037341", "18 characters"),  # too short
        ("91110000600037341L0", "18 characters"),  # too long
        ("91110000600037341M", "check digit"),  # wrong check digit
        ("9111000060003734IL", "character"),  # I is never used
    ],
)
def test_it_refuses_an_invalid_uscc_naming_why(code, why):
    with pytest.raises(IndustryError) as exc:
        uscc_clean(code)
    assert why in str(exc.value.detail)
    assert exc.value.extra["field"] == "uscc"


@pytest.fixture
def officer(db):
    return make_user(role=Role.DEPARTMENT_OFFICER, department=make_department())


def test_post_enterprise_registers_entity_with_uscc_identifier(api_client, officer):
    api_client.force_authenticate(officer)
    r = api_client.post(
        "/api/v1/industry/enterprises/",
        {"name": "滨江精密机械有限公司", "uscc": VALID, "industry_code": "34", "size": "small"},
        format="json",
    )
    assert r.status_code == 201, r.content
    ent = Enterprise.objects.get(id=r.json()["id"])
    assert ent.department_id == officer.department_id
    assert ent.section_code == "C"
    assert EntityIdentifier.objects.get(scheme="uscc", value=VALID).entity_id == ent.entity_id
    assert facade.entity_get(id=ent.entity_id).type == "enterprise"
    assert Event.objects.filter(type="industry.enterprise_registered", subject_id=ent.entity_id).exists()


@pytest.mark.parametrize("code", ["123", "91110000600037341M", "9111000060003734OL"])
def test_post_enterprise_with_bad_uscc_is_a_400_naming_the_field(api_client, officer, code):
    api_client.force_authenticate(officer)
    r = api_client.post("/api/v1/industry/enterprises/", {"name": "X公司", "uscc": code}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("uscc:")
    assert not Enterprise.objects.exists()


def test_post_duplicate_uscc_is_a_409_with_the_existing_id(api_client, officer):
    api_client.force_authenticate(officer)
    first = api_client.post("/api/v1/industry/enterprises/", {"name": "甲公司", "uscc": VALID}, format="json").json()
    r = api_client.post("/api/v1/industry/enterprises/", {"name": "乙公司", "uscc": VALID.lower()}, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["existing_id"] == first["id"]


def test_post_enterprise_with_unknown_industry_code_is_a_400(api_client, officer):
    api_client.force_authenticate(officer)
    r = api_client.post(
        "/api/v1/industry/enterprises/", {"name": "甲公司", "uscc": make_uscc(), "industry_code": "99"}, format="json"
    )
    assert r.status_code == 400
    assert "industry_code" in r.json()["error"]["message"]


def test_officers_see_only_their_department_subtree(api_client):
    d1, d2 = make_department(), make_department()
    child = make_department(parent=d1)
    mine = make_enterprise(department_id=child.id)
    other = make_enterprise(department_id=d2.id)
    api_client.force_authenticate(make_user(department=d1))
    ids = {e["id"] for e in api_client.get("/api/v1/industry/enterprises/").json()["results"]}
    assert mine.id in ids and other.id not in ids
    assert api_client.get(f"/api/v1/industry/enterprises/{other.id}/profile/").status_code == 404


def test_enterprise_users_see_only_their_own_enterprise(api_client):
    from tests.industry.factories import make_member

    a, b = make_enterprise(legal_representative="张三"), make_enterprise()
    user = make_user(role=Role.ENTERPRISE_USER)
    make_member(a, user)
    api_client.force_authenticate(user)
    rows = api_client.get("/api/v1/industry/enterprises/").json()["results"]
    assert [r["id"] for r in rows] == [a.id]
    assert rows[0]["legal_representative"] == "张三"
    assert api_client.get(f"/api/v1/industry/enterprises/{b.id}/").status_code == 404
    r = api_client.post("/api/v1/industry/enterprises/", {"name": "X", "uscc": make_uscc()}, format="json")
    assert r.status_code == 403


def test_legal_representative_is_masked_for_analysts(api_client):
    ent = make_enterprise(legal_representative="王小明")
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    row = api_client.get(f"/api/v1/industry/enterprises/{ent.id}/").json()
    assert row["legal_representative"] == "王**"


def test_industry_codes_ship_sections_and_divisions(api_client, officer):
    api_client.force_authenticate(officer)
    codes = api_client.get("/api/v1/industry/industry-codes/").json()
    assert len([c for c in codes if c["level"] == "section"]) == 20
    assert len([c for c in codes if c["level"] == "division"]) == 97
    assert {
        "code": "36",
        "level": "division",
        "parent": "C",
        "name": "汽车制造业",
        "name_en": "Manufacture of automobiles",
    } in codes
