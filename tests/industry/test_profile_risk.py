from datetime import date, timedelta

import pytest
from django.utils import timezone

from cityos.roles import Role
from datahub import facade
from datahub.models import Event
from industry.models import RiskSignal
from industry.selectors import PROFILE_QUERY_BUDGET
from industry.services.indicators import indicators_upsert
from industry.services.matching import match_run
from industry.services.registry import enterprise_update, licence_add
from industry.services.risk import risk_recompute, robust_z
from tests.factories import make_department, make_user
from tests.industry.factories import make_enterprise, make_policy

pytestmark = pytest.mark.django_db


def _months(ent, metric, values):
    today = timezone.localdate()
    start = date(today.year, today.month, 1)
    rows = []
    for k, v in enumerate(reversed(values)):
        y, m = start.year, start.month - 1 - k
        while m < 1:
            y, m = y - 1, m + 12
        rows.append(
            {"enterprise_id": ent.id, "metric": metric, "period": "month", "period_start": date(y, m, 1), "value": v}
        )
    indicators_upsert(rows=rows)


def test_the_profile_api_stays_within_its_query_budget(api_client, django_assert_max_num_queries):
    ent = make_enterprise(
        industry_code="36", size="small", tags=["high-tech"], lon=120.01, lat=30.01, legal_representative="李四"
    )
    for k in range(3):
        licence_add(enterprise_id=ent.id, type=f"许可证{k}", valid_to=date(2030, 1, 1))
    _months(ent, "revenue", [100 + k for k in range(36)])
    _months(ent, "tax", [10 + k for k in range(36)])
    make_policy(criteria=[{"kind": "size", "codes": ["small"]}])
    make_policy(criteria=[{"kind": "industry", "codes": ["C"]}], automatic=True)
    match_run()
    risk_recompute()
    facade.event_record(type="case.created", lon=120.01, lat=30.01, payload={"title": "门口噪音"})
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    # auth (token/session user) + the profile's fixed set of queries, whatever the enterprise holds
    with django_assert_max_num_queries(PROFILE_QUERY_BUDGET):
        r = api_client.get(f"/api/v1/industry/enterprises/{ent.id}/profile/")
    assert r.status_code == 200
    p = r.json()
    assert p["uscc"] == ent.uscc and p["industry"]["section"] == "C"
    assert len(p["licences"]) == 3 and len(p["indicators"]["revenue"]) == 36
    assert len(p["policies"]) == 2 and p["grants"][0]["status"] == "proposed"
    assert p["cases"][0]["title"] == "门口噪音"
    assert p["risk"]["level"] in ("low", "medium", "high")


def test_robust_z_flags_a_drop_beyond_the_enterprises_own_history():
    history = [100, 102, 98, 101, 99, 103, 97, 100, 101, 99, 102, 98]
    assert robust_z(history, 100) == pytest.approx(0, abs=0.5)
    assert robust_z(history, 60) < -3.5
    assert robust_z([5] * 12, 1) is None  # a flat history says nothing


def test_risk_reasons_and_weights_and_the_raised_event():
    ent = make_enterprise(lon=120.01, lat=30.01)
    licence_add(enterprise_id=ent.id, type="危险化学品经营许可证", valid_to=timezone.localdate() - timedelta(days=3))
    licence_add(enterprise_id=ent.id, type="排污许可证", valid_to=timezone.localdate() + timedelta(days=20))
    _months(ent, "revenue", [100, 102, 98, 101, 99, 103, 97, 100, 101, 99, 102, 98, 40])
    res = risk_recompute(enterprise_ids=[ent.id])
    signals = {s.code: s for s in RiskSignal.objects.filter(enterprise=ent)}
    assert set(signals) == {"licence_expired", "licence_expiring", "indicator_drop"}
    assert signals["licence_expired"].weight == 20 and "危险化学品经营许可证" in signals["licence_expired"].reason
    assert signals["indicator_drop"].value["z"] < -3.5
    ent.refresh_from_db()
    assert ent.risk_score == 50 and ent.risk_level == "medium" and res["raised"] == 1
    raised = Event.objects.get(type="industry.risk_raised", subject_id=ent.entity_id)
    assert raised.payload["from"] == "low" and raised.payload["to"] == "medium"
    # a rerun at the same level records nothing new; a worse status raises it again
    risk_recompute(enterprise_ids=[ent.id])
    assert Event.objects.filter(type="industry.risk_raised").count() == 1
    enterprise_update(enterprise_id=ent.id, status="suspended")
    risk_recompute(enterprise_ids=[ent.id])
    ent.refresh_from_db()
    assert ent.risk_level == "high" and Event.objects.filter(type="industry.risk_raised").count() == 2


def test_cases_at_the_address_count_as_a_risk_signal():
    ent = make_enterprise(lon=120.01, lat=30.01)
    facade.event_record(type="case.created", lon=120.01001, lat=30.01001)
    facade.event_record(type="case.created", lon=120.05, lat=30.05)  # ~5 km away: not counted
    risk_recompute(enterprise_ids=[ent.id])
    sig = RiskSignal.objects.get(enterprise=ent, code="cases")
    assert sig.value == {"count": 1} and sig.weight == 5


def test_an_officers_profile_stays_within_the_budget_too(api_client, django_assert_max_num_queries):
    dept = make_department()
    ent = make_enterprise(department_id=dept.id, legal_representative="赵六", lon=120.02, lat=30.02)
    api_client.force_authenticate(make_user(department=dept))
    with django_assert_max_num_queries(PROFILE_QUERY_BUDGET):
        r = api_client.get(f"/api/v1/industry/enterprises/{ent.id}/profile/")
    assert r.status_code == 200 and r.json()["legal_representative"] == "赵六"


def test_every_change_shows_on_the_next_profile_request(api_client):
    ent = make_enterprise(industry_code="36", size="small", lon=120.01, lat=30.01)
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    url = f"/api/v1/industry/enterprises/{ent.id}/profile/"
    before = api_client.get(url).json()
    assert before["licences"] == [] and before["policies"] == [] and before["cases"] == []

    enterprise_update(enterprise_id=ent.id, name="改名后的企业有限公司")
    licence_add(enterprise_id=ent.id, type="排污许可证", valid_to=timezone.localdate() - timedelta(days=1))
    _months(ent, "revenue", [100, 110])
    policy = make_policy(criteria=[{"kind": "size", "codes": ["small"]}], automatic=True)
    match_run()
    risk_recompute(enterprise_ids=[ent.id])
    facade.event_record(type="case.created", lon=120.01, lat=30.01, payload={"title": "门口堆放杂物"})
    after = api_client.get(url).json()
    assert after["name"] == "改名后的企业有限公司"
    assert [(lic["type"], lic["state"]) for lic in after["licences"]] == [("排污许可证", "expired")]
    assert [v for _month, v in after["indicators"]["revenue"]] == [100, 110]
    assert [p["policy_id"] for p in after["policies"]] == [policy.id]
    assert after["grants"][0]["policy_id"] == policy.id and after["grants"][0]["status"] == "proposed"
    assert "licence_expired" in {r["code"] for r in after["risk"]["reasons"]}
    assert after["cases"][0]["title"] == "门口堆放杂物"

    from industry.services.policies import grants_decide

    grants_decide(grant_ids=[after["grants"][0]["id"]], decision="confirm", actor=make_user(role=Role.ADMINISTRATOR))
    large_only = make_policy(criteria=[{"kind": "size", "codes": ["large"]}])
    enterprise_update(enterprise_id=ent.id, size="large")
    match_run()
    last = api_client.get(url).json()
    assert last["grants"][0]["status"] == "confirmed"
    assert [p["policy_id"] for p in last["policies"]] == [large_only.id]


def test_each_role_gets_its_own_view_of_the_same_profile(api_client):
    """Masking and scoping are decided per request: an unmasked view never reaches another role."""
    dept, other = make_department(), make_department()
    ent = make_enterprise(department_id=dept.id, legal_representative="王小明")
    url = f"/api/v1/industry/enterprises/{ent.id}/profile/"
    member = make_user(role=Role.ENTERPRISE_USER)
    from tests.industry.factories import make_member

    make_member(ent, member)
    seen = {}
    for name, user in [
        ("admin", make_user(role=Role.ADMINISTRATOR)),
        ("analyst", make_user(role=Role.ANALYST)),
        ("officer", make_user(department=dept)),
        ("grid", make_user(role=Role.GRID_WORKER, department=dept)),
        ("member", member),
        ("analyst again", make_user(role=Role.ANALYST)),
    ]:
        api_client.force_authenticate(user)
        seen[name] = api_client.get(url).json()["legal_representative"]
    assert seen == {
        "admin": "王小明",
        "analyst": "王**",
        "officer": "王小明",
        "grid": "王**",
        "member": "王小明",
        "analyst again": "王**",
    }
    for user in (
        make_user(department=other),
        make_user(role=Role.ENTERPRISE_USER),
        make_user(role=Role.EXTERNAL_DEVELOPER),
    ):
        api_client.force_authenticate(user)
        assert api_client.get(url).status_code == 404
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    assert api_client.get("/api/v1/industry/enterprises/999999999/profile/").status_code == 404
