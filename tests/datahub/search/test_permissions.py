"""What a user may see is decided inside the query: results, counts and facets never leak."""

import pytest

from datahub.search import selectors

from .conftest import item


@pytest.fixture
def corpus(city, index):
    index(
        [
            item(key="pub", title="噪音 公开数据", level="public"),
            item(key="int", title="噪音 内部通报", level="internal", department_id=city.transport.id),
            item(key="env", title="噪音 环境局案件", level="restricted", department_id=city.env.id),
            item(key="office", title="噪音 监测站案件", level="restricted", department_id=city.env_office.id),
            item(key="tr", title="噪音 交通局案件", level="restricted", department_id=city.transport.id),
            item(key="nodept", title="噪音 未派遣案件", level="restricted"),
            item(
                key="grid",
                title="噪音 网格案件",
                level="restricted",
                department_id=city.transport.id,
                grants=["grid:77"],
            ),
        ]
    )
    return city


def seen(user, **kw) -> tuple[set[str], int, dict]:
    r = selectors.search(user=user, req=selectors.SearchRequest(q="噪音", understand=False, page_size=50, **kw))
    return {x["id"] for x in r["results"]}, r["count"], r["facets"]


def test_a_city_leader_sees_everything(corpus):
    keys, count, _f = seen(corpus.leader)
    assert keys == {"pub", "int", "env", "office", "tr", "nodept", "grid"} and count == 7


def test_an_officer_sees_public_internal_and_their_department_subtree(corpus):
    keys, count, facets = seen(corpus.officer)
    assert keys == {"pub", "int", "env", "office"} and count == 4
    assert sum(f["count"] for f in facets["kind"]) == 4  # the facets are counted over the same rows
    assert {f["value"] for f in facets["department"]} == {corpus.transport.id, corpus.env.id, corpus.env_office.id}


def test_an_office_officer_also_sees_the_restricted_items_of_departments_above_theirs(corpus):
    keys, _c, _f = seen(corpus.office_officer)
    assert keys == {"pub", "int", "env", "office"}


def test_another_bureau_sees_its_own_only(corpus):
    keys, count, _f = seen(corpus.transport_officer)
    assert keys == {"pub", "int", "tr", "grid"} and count == 4


@pytest.mark.parametrize("who", ["anonymous", "developer"])
def test_anonymous_users_and_external_developers_see_public_items_only(corpus, who):
    from django.contrib.auth.models import AnonymousUser

    user = AnonymousUser() if who == "anonymous" else corpus.developer
    keys, count, facets = seen(user)
    assert keys == {"pub"} and count == 1
    assert facets["kind"] == [{"value": "document", "label": "互联网文档", "count": 1}]


def test_access_tokens_registered_by_an_app_grant_items(corpus):
    from datahub import facade
    from datahub.search import services

    def tokens(user):
        return ["grid:77"] if user.id == corpus.officer.id else []

    facade.search_access_register(tokens)
    try:
        assert "grid" in seen(corpus.officer)[0]
        assert "grid" not in seen(corpus.office_officer)[0]
    finally:
        services.ACCESS_FUNCTIONS.remove(tokens)


def test_governance_dispatchers_see_every_case(corpus, index):
    from governance.models import DispatchCentre
    from governance.services.refcache import refcache_reset_all
    from tests.factories import make_department, make_user

    hotline = make_department(code="hotline", name="12345热线")
    DispatchCentre.objects.create(department=hotline)
    refcache_reset_all()
    index([item(kind="case", key="k1", title="噪音 工单", level="restricted", department_id=corpus.transport.id)])
    dispatcher = make_user(department=hotline)
    keys, _c, _f = seen(dispatcher, kinds=["case"])
    assert keys == {"k1"}
    assert seen(corpus.officer, kinds=["case"])[0] == set()
