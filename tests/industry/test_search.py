import pytest

from industry.search import search_items
from industry.services.registry import licence_add
from tests.industry.factories import make_enterprise, make_policy

pytestmark = pytest.mark.django_db
KEYS = {
    "kind",
    "key",
    "title",
    "title_en",
    "body",
    "body_en",
    "identifiers",
    "url",
    "time",
    "area_id",
    "lon",
    "lat",
    "department_id",
    "level",
    "facets",
}


def test_search_items_carry_the_contract_shape_and_no_personal_data():
    ent = make_enterprise(
        name="滨江智能装备有限公司",
        legal_representative="赵六",
        industry_code="35",
        address="江南区1号",
        lon=120.01,
        lat=30.01,
        tags=["high-tech"],
    )
    licence_add(enterprise_id=ent.id, type="排污许可证", number="PW-123")
    make_policy(criteria=[{"kind": "status"}], title="惠企政策")
    items = list(search_items())
    e = next(i for i in items if i["kind"] == "enterprise")
    assert set(e) == KEYS
    assert e["key"] == str(ent.id) and e["url"] == f"/industry/enterprises/{ent.id}/"
    assert ent.uscc in e["identifiers"] and "PW-123" in e["identifiers"]
    assert "专用设备制造业" in e["body"] and e["facets"] == {"category": "C", "status": "active"}
    assert all("赵六" not in str(v) for v in e.values())  # the legal representative is personal data
    p = next(i for i in items if i["kind"] == "policy")
    assert set(p) == KEYS and p["level"] == "public" and p["title"] == "惠企政策"
    assert [i["key"] for i in search_items(ids=[ent.id])] == [str(ent.id)]
