"""cityos.querysets: several .values() querysets in one round trip, rows as .values() gives them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Value

from cityos.querysets import Prepared, values_together
from industry.models import Appeal, Indicator, Licence, Policy
from industry.services.indicators import indicators_upsert
from industry.services.registry import licence_add
from tests.industry.factories import make_enterprise, make_policy

pytestmark = pytest.mark.django_db


def _parts(ent):
    return {
        "licences": Licence.objects.filter(enterprise=ent).order_by("-valid_to").values("type", "valid_to"),
        "indicators": Indicator.objects.filter(enterprise=ent, period="month")
        .order_by("period_start")
        .values("period_start", "value")[:2],
        "policies": Policy.objects.order_by("id").values("code", "amount", "matched_at", "automatic"),
        "appeals": Appeal.objects.filter(enterprise=ent).values("id"),
        "none": Licence.objects.none().values("id"),
    }


def test_it_gives_the_same_rows_as_each_queryset_in_one_query(django_assert_num_queries):
    ent = make_enterprise()
    licence_add(enterprise_id=ent.id, type="甲", valid_to=date(2031, 1, 1))
    licence_add(enterprise_id=ent.id, type="乙", valid_to=date(2032, 5, 6))
    indicators_upsert(
        rows=[
            {
                "enterprise_id": ent.id,
                "metric": "revenue",
                "period": "month",
                "period_start": date(2025, m, 1),
                "value": v,
            }
            for m, v in ((1, 0.1), (2, 1e-7), (3, 12345678.125))
        ]
    )
    make_policy(criteria=[{"kind": "status"}], amount=Decimal("100000.00"), automatic=True)
    expected = {k: list(qs) for k, qs in _parts(ent).items()}
    with django_assert_num_queries(1):
        got = values_together(_parts(ent))
    assert got == expected
    assert [r["type"] for r in got["licences"]] == ["乙", "甲"]  # each queryset's own order and slice
    assert got["indicators"] == [
        {"period_start": date(2025, 1, 1), "value": 0.1},
        {"period_start": date(2025, 2, 1), "value": 1e-7},
    ]
    assert str(got["policies"][0]["amount"]) == "100000.00" and got["none"] == []


def test_prepared_querysets_are_compiled_once_and_bound_per_call():
    a, b = make_enterprise(), make_enterprise()
    licence_add(enterprise_id=a.id, type="甲", valid_to=date(2031, 1, 1))
    licence_add(enterprise_id=b.id, type="乙", valid_to=date(2030, 1, 1))
    prepared = Prepared(
        lambda *, eid, after: {
            "licences": Licence.objects.filter(enterprise_id=eid, valid_to__gt=after).values("type", "valid_to")
        },
        eid=-999_001,
        after=date(1901, 1, 1),
    )
    assert values_together({}, prepared=prepared.bind(eid=a.id, after=date(2020, 1, 1))) == {
        "licences": [{"type": "甲", "valid_to": date(2031, 1, 1)}]
    }
    assert values_together({}, prepared=prepared.bind(eid=b.id, after=date(2030, 1, 1))) == {"licences": []}
    assert values_together({}, prepared=prepared.bind(eid=b.id, after=date(2029, 1, 1) - timedelta(days=1)))[
        "licences"
    ] == [{"type": "乙", "valid_to": date(2030, 1, 1)}]


def test_prepared_refuses_a_sentinel_the_sql_inlines():
    prepared = Prepared(lambda *, n: {"x": Licence.objects.values("id")[:n]}, n=987_654)
    with pytest.raises(ValueError, match="inlined"):
        prepared.bind(n=3)


def test_it_refuses_a_queryset_of_model_instances():
    with pytest.raises(ValueError):
        values_together({"x": Licence.objects.annotate(v=Value(1))})
