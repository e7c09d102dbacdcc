"""Relevance over the demo city: the labelled set (datahub.search.relevance) must keep the
figures reported in the README (nDCG@10 and recall@20 per query type)."""

import pytest

from cityos.roles import Role
from datahub.search import relevance
from tests.demo_snapshot import demo_city
from tests.factories import make_user

# What the README reports, rounded down: a regression in segmentation, pinyin, typo tolerance,
# synonyms or understanding fails here.
FLOORS = {
    "substring": (0.98, 1.0),
    "compound": (0.98, 1.0),
    "intent": (0.97, 1.0),
    "english": (0.95, 0.97),
    "typo": (0.92, 0.93),
    "synonym": (0.88, 0.93),
    "initials": (0.85, 0.85),
    "pinyin": (0.78, 0.80),
}


@pytest.mark.django_db
def test_the_labelled_query_set_keeps_its_relevance():
    demo_city()
    report = relevance.evaluate(make_user(role=Role.CITY_LEADER))
    assert report["overall"]["n"] >= 150
    for kind, (ndcg, recall) in FLOORS.items():
        got = report["by_type"][kind]
        assert got["ndcg@10"] >= ndcg and got["recall@20"] >= recall, (kind, got)
    assert report["overall"]["ndcg@10"] >= 0.92 and report["overall"]["recall@20"] >= 0.93, report["overall"]
