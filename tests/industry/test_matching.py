"""The matching engine on hand-made enterprises at each criterion's edge."""

from datetime import date

import pytest
from django.utils import timezone

from cityos.roles import Role
from datahub.models import Event
from industry.models import Grant, Match, Notice, Tag
from industry.services.errors import IndustryError
from industry.services.indicators import indicators_upsert
from industry.services.matching import match_run
from industry.services.policies import criteria_propose
from industry.services.registry import licence_add
from tests.factories import make_department, make_user
from tests.governance.factories import make_area
from tests.industry.factories import make_enterprise, make_policy

pytestmark = pytest.mark.django_db
LAST = timezone.localdate().year - 1


def _year(ent, metric, year, value):
    indicators_upsert(
        rows=[
            {
                "enterprise_id": ent.id,
                "metric": metric,
                "period": "year",
                "period_start": date(year, 1, 1),
                "value": value,
            }
        ],
        rollup=False,
    )


def _crit(policy, ent):
    m = Match.objects.filter(policy=policy, enterprise=ent).first()
    return (m.status, [(c["kind"], c["met"], c["value"]) for c in m.criteria]) if m else None


def test_revenue_growth_threshold_is_met_at_the_edge_and_not_below():
    at, below, unknown = make_enterprise(), make_enterprise(), make_enterprise()
    for ent, cur in ((at, 120.0), (below, 119.9)):
        _year(ent, "revenue", LAST - 1, 100.0)
        _year(ent, "revenue", LAST, cur)
    policy = make_policy(
        criteria=[{"kind": "indicator", "metric": "revenue", "measure": "growth", "op": "gte", "number": 20}]
    )
    match_run()
    assert _crit(policy, at) == ("eligible", [("indicator", True, 20.0)])
    assert _crit(policy, below) is None  # 19.9 % < 20 %: not met, not stored
    # no indicator data: unknown (null), so "possibly eligible" with the value it lacked
    assert _crit(policy, unknown) == ("possible", [("indicator", None, None)])


def test_each_criterion_is_explained_with_met_and_the_value_used():
    district = make_area(level="district")
    street = make_area(level="street", parent=district, rect=(120.0, 30.0, 120.05, 30.05))
    ent = make_enterprise(
        industry_code="36",
        size="small",
        tags=["high-tech"],
        lon=120.01,
        lat=30.01,
        founded_on=date(timezone.localdate().year - 3, 1, 1),
    )
    licence_add(enterprise_id=ent.id, type="排污许可证", valid_to=date(2099, 1, 1))
    assert ent.area_id == street.id
    policy = make_policy(
        criteria=[
            {"kind": "industry", "codes": ["C"]},
            {"kind": "size", "codes": ["micro", "small"]},
            {"kind": "tag", "codes": ["high-tech", "specialised"]},
            {"kind": "area", "area_id": district.id},
            {"kind": "age", "op": "lte", "number": 3},
            {"kind": "licence", "codes": ["排污许可证"]},
            {"kind": "status"},
        ]
    )
    match_run(enterprise_ids=[ent.id])
    status, crits = _crit(policy, ent)
    assert status == "eligible"
    assert crits == [
        ("industry", True, "36"),
        ("size", True, "small"),
        ("tag", True, ["high-tech"]),
        ("area", True, street.id),
        ("age", True, 3),
        ("licence", True, ["排污许可证"]),
        ("status", True, "active"),
    ]
    older = make_policy(criteria=[{"kind": "age", "op": "lte", "number": 2}, {"kind": "industry", "codes": ["C"]}])
    wrong_size = make_policy(criteria=[{"kind": "size", "codes": ["large"]}])
    match_run()
    assert _crit(older, ent) is None and _crit(wrong_size, ent) is None


def test_an_expired_licence_does_not_count():
    ent = make_enterprise()
    licence_add(enterprise_id=ent.id, type="食品经营许可证", valid_to=date(2020, 1, 1))
    policy = make_policy(criteria=[{"kind": "licence", "codes": ["食品经营许可证"]}])
    match_run()
    assert _crit(policy, ent) is None


def test_a_change_to_the_enterprise_re_matches_it():
    ent = make_enterprise(size="medium")
    policy = make_policy(criteria=[{"kind": "size", "codes": ["small"]}])
    match_run()
    assert _crit(policy, ent) is None
    from industry.services.registry import enterprise_update

    enterprise_update(enterprise_id=ent.id, size="small")
    match_run(enterprise_ids=[ent.id])
    assert _crit(policy, ent)[0] == "eligible"


@pytest.mark.parametrize(
    ("criterion", "field", "message"),
    [
        (
            {"kind": "indicator", "metric": "happiness", "op": "gte", "number": 1},
            "criteria[0].metric",
            "unknown indicator",
        ),
        ({"kind": "industry", "codes": ["ZZ"]}, "criteria[0].codes", "unknown GB/T 4754-2017 industry code"),
        ({"kind": "tag", "codes": ["nope"]}, "criteria[0].codes", "unknown tag"),
        ({"kind": "magic"}, "criteria[0].kind", "unknown kind"),
    ],
)
def test_a_criterion_on_an_unknown_indicator_or_code_is_refused(criterion, field, message):
    with pytest.raises(IndustryError) as exc:
        make_policy(criteria=[criterion])
    assert exc.value.extra["field"] == field and message in str(exc.value.detail)


def test_automatic_policy_proposes_grants_that_an_officer_confirms_in_bulk(api_client):
    dept = make_department()
    a, b = make_enterprise(tags=["specialised"]), make_enterprise(tags=["specialised"])
    make_enterprise()  # not tagged: no proposal
    policy = make_policy(
        criteria=[{"kind": "tag", "codes": ["specialised"]}], automatic=True, amount=10, department_id=dept.id
    )
    match_run()
    grants = Grant.objects.filter(policy=policy).order_by("enterprise_id")
    assert [(g.enterprise_id, g.status) for g in grants] == [(a.id, "proposed"), (b.id, "proposed")]
    api_client.force_authenticate(make_user(department=dept))
    r = api_client.post(
        "/api/v1/industry/grants/decide/",
        {"ids": [g.id for g in grants] + [999999], "decision": "confirm"},
        format="json",
    )
    assert r.status_code == 200
    assert sorted(r.json()["done"]) == sorted(g.id for g in grants) and r.json()["failed"] == {"999999": "not found"}
    assert set(Grant.objects.values_list("status", flat=True)) == {"confirmed"}
    assert Notice.objects.filter(enterprise__in=[a, b]).count() == 2
    assert Event.objects.filter(type="industry.grant_confirmed").count() == 2
    # an officer of another department may not confirm this department's grants
    other = make_user(department=make_department())
    api_client.force_authenticate(other)
    r = api_client.post("/api/v1/industry/grants/decide/", {"ids": [grants[0].id], "decision": "reject"}, format="json")
    assert r.json()["done"] == []
    # a proposal whose enterprise stops qualifying is withdrawn; confirmed ones stay
    Tag.objects.get(code="specialised").enterprises.remove(a)
    match_run()
    assert Grant.objects.filter(enterprise=a, status="confirmed").exists()


def test_matches_and_policies_for_me_endpoints(api_client):
    ent = make_enterprise(size="small")
    policy = make_policy(criteria=[{"kind": "size", "codes": ["small"]}])
    match_run()
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    r = api_client.get(f"/api/v1/industry/policies/{policy.id}/matches/")
    assert r.status_code == 200
    row = r.json()["results"][0]
    assert row["enterprise"] == ent.id and row["criteria"][0]["met"] is True and row["criteria"][0]["value"] == "small"
    r = api_client.get(f"/api/v1/industry/enterprises/{ent.id}/policies/")
    assert [p["policy"] for p in r.json()["results"]] == [policy.id]


def test_criteria_are_proposed_from_a_policy_text():
    area = make_area(level="district", name="高新区", name_en="Gaoxin")
    from django.core.cache import cache

    cache.clear()
    text = (
        "对注册在高新区、成立不满5年的高新技术企业和专精特新中小企业，上年度营业收入增长率不低于20%，"
        "且纳税额达到50万元的软件和信息技术服务业企业，给予一次性奖励。"
    )
    proposed = criteria_propose(text=text)
    kinds = {c["kind"]: c for c in proposed}
    assert kinds["indicator"]["metric"] in ("revenue", "tax")
    growth = next(c for c in proposed if c.get("measure") == "growth")
    assert growth["metric"] == "revenue" and growth["number"] == 20.0 and "20%" in growth["evidence"]
    tax = next(c for c in proposed if c.get("metric") == "tax")
    assert tax["number"] == 50.0
    assert kinds["age"] == {"kind": "age", "op": "lte", "number": 5.0, "evidence": "成立不满5年"}
    assert set(kinds["tag"]["codes"]) >= {"high-tech", "specialised"}
    assert "65" in kinds["industry"]["codes"]
    assert kinds["size"]["codes"] == ["small", "medium"]
    assert kinds["area"]["area_id"] == area.id


def test_a_change_queues_the_rematch_task_after_commit(django_capture_on_commit_callbacks):
    """The Celery task runs in-process here (always eager), the same task a worker runs."""
    from cityos.celery import app
    from industry.services.registry import enterprise_update

    ent = make_enterprise(size="medium")
    policy = make_policy(criteria=[{"kind": "size", "codes": ["small"]}])
    match_run()
    assert _crit(policy, ent) is None
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            enterprise_update(enterprise_id=ent.id, size="small")
    finally:
        app.conf.task_always_eager = False
    assert _crit(policy, ent)[0] == "eligible"


def _park(code="edge-park", x0=120.0):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from industry.models import Park

    return Park.objects.create(
        code=code, name="边界园区", boundary=MultiPolygon(Polygon.from_bbox((x0, 30.0, x0 + 0.01, 30.01)), srid=4326)
    )


def test_park_criterion_at_the_park_edge():
    park = _park()
    inside = make_enterprise(lon=120.005, lat=30.005)
    on_edge = make_enterprise(lon=120.01, lat=30.005)  # on the boundary line: in the park
    outside = make_enterprise(lon=120.0101, lat=30.005)  # ~10 m east of it
    nowhere = make_enterprise()  # no location: unknown
    assert (inside.park_id, on_edge.park_id, outside.park_id, nowhere.park_id) == (park.id, park.id, None, None)
    policy = make_policy(criteria=[{"kind": "park", "park_id": park.id}])
    match_run()
    assert _crit(policy, inside) == ("eligible", [("park", True, park.id)])
    assert _crit(policy, on_edge) == ("eligible", [("park", True, park.id)])
    assert _crit(policy, outside) is None  # located, in no park: not met, not stored
    assert _crit(policy, nowhere) == ("possible", [("park", None, None)])


def test_park_criterion_explains_a_false_next_to_a_met_one():
    """A located enterprise in another park fails the park criterion: with an unknown second
    criterion it is still not stored, and in the other park's policy the value is its own park."""
    park, other = _park("edge-a"), _park("edge-b", x0=120.02)
    ent = make_enterprise(lon=120.025, lat=30.005)
    assert ent.park_id == other.id
    mine = make_policy(criteria=[{"kind": "park", "park_id": park.id}, {"kind": "industry", "codes": ["C"]}])
    theirs = make_policy(criteria=[{"kind": "park", "park_id": other.id}])
    match_run()
    assert _crit(mine, ent) is None
    assert _crit(theirs, ent) == ("eligible", [("park", True, other.id)])


def test_no_violations_criterion_at_its_edge():
    from datahub import facade
    from industry.services.risk import risk_recompute

    clean, one_case, unknown = (make_enterprise(lon=120.3 + k / 100, lat=30.3) for k in range(3))
    facade.event_record(type="case.created", subject_id=one_case.entity_id, payload={"origin": {"kind": "test"}})
    risk_recompute(enterprise_ids=[clean.id, one_case.id])  # unknown's risk was never computed
    policy = make_policy(criteria=[{"kind": "no_violations"}])
    match_run()
    assert _crit(policy, clean) == ("eligible", [("no_violations", True, 0)])
    assert _crit(policy, one_case) is None  # one case in 180 days: not met
    assert _crit(policy, unknown) == ("possible", [("no_violations", None, None)])
    # The explanation keeps the count it used when the criterion fails next to an unknown one.
    both = make_policy(criteria=[{"kind": "no_violations"}, {"kind": "size", "codes": ["small"]}])
    match_run()
    assert _crit(both, one_case) is None
    assert _crit(both, clean) == ("possible", [("no_violations", True, 0), ("size", None, None)])
