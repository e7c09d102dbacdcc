"""Suggestions as you type come from the suggestion table: title starts, word starts, pinyin and
initials, ranked by weight; each user is offered only what their search would show them."""

from django.db import connection

from datahub.models import SearchItem, SearchSuggestion
from datahub.search import selectors

from .conftest import item


def titles(user, q: str, **kw) -> list[str]:
    return [s["title"] for s in selectors.suggest(user=user, q=q, **kw)]


def test_it_completes_title_starts_word_starts_pinyin_and_initials(city, index):
    index(
        [
            item(kind="facility", key="lib", title="望京图书馆", title_en="Wangjing Library"),
            item(kind="document", key="doc", title="Wangjing: garbage not collected for days"),
            item(kind="enterprise", key="bank", title="中国农业发展银行滨江支行"),
        ]
    )
    assert titles(city.leader, "望京") == ["望京图书馆"]
    assert titles(city.leader, "图书") == ["望京图书馆"]  # a word start
    assert titles(city.leader, "农业发") == ["中国农业发展银行滨江支行"]  # a word inside a compound
    assert titles(city.leader, "wangjingt") == ["望京图书馆"]  # pinyin
    assert titles(city.leader, "wjt") == ["望京图书馆"]  # initials
    assert titles(city.leader, "GARB") == ["Wangjing: garbage not collected for days"]
    assert titles(city.leader, "wangjing garb") == ["Wangjing: garbage not collected for days"]  # no colon
    assert set(titles(city.leader, "wangj")) == {"望京图书馆", "Wangjing: garbage not collected for days"}
    assert titles(city.leader, "图书馆x") == []


def test_an_officer_is_never_offered_what_they_may_not_see(city, index):
    index(
        [
            item(key="pub", title="噪音监测公开数据", level="public"),
            item(key="int", title="噪音内部通报", level="internal", department_id=city.transport.id),
            item(key="env", title="噪音环境局案件", level="restricted", department_id=city.env.id),
            item(key="office", title="噪音监测站案件", level="restricted", department_id=city.env_office.id),
            item(key="tr", title="噪音交通局案件", level="restricted", department_id=city.transport.id),
            item(key="grid", title="噪音网格案件", level="restricted", grants=["grid:77"]),
        ]
    )
    everything = {
        "噪音监测公开数据",
        "噪音内部通报",
        "噪音环境局案件",
        "噪音监测站案件",
        "噪音交通局案件",
        "噪音网格案件",
    }
    assert set(titles(city.leader, "噪音", limit=20)) == everything
    assert set(titles(city.officer, "噪音", limit=20)) == {
        "噪音监测公开数据",
        "噪音内部通报",
        "噪音环境局案件",
        "噪音监测站案件",
    }
    assert set(titles(city.office_officer, "zaoyin", limit=20)) == {
        "噪音监测公开数据",
        "噪音内部通报",
        "噪音环境局案件",
        "噪音监测站案件",
    }
    assert set(titles(city.transport_officer, "噪", limit=20)) == {"噪音监测公开数据", "噪音内部通报", "噪音交通局案件"}
    assert titles(city.developer, "噪音", limit=20) == ["噪音监测公开数据"]
    from django.contrib.auth.models import AnonymousUser

    assert titles(AnonymousUser(), "zy", limit=20) == ["噪音监测公开数据"]


def test_the_walk_offers_distinct_completions_best_first(city, index):
    # 30 restricted items of another department share one completion with a visible one: the
    # walk still finds the visible item (the first visible row of the term), and offers it once.
    index(
        [item(key=f"tr{i}", title="占道经营", level="restricted", department_id=city.transport.id) for i in range(30)]
        + [item(key="env", title="占道经营", level="restricted", department_id=city.env.id)]
        + [item(kind="area", key="a", title="占道经营整治区"), item(kind="case", key="c", title="占道经营投诉")]
    )
    got = selectors.suggest(user=city.officer, q="占道")
    assert [(s["kind"], s["id"]) for s in got][:1] == [("area", "a")]  # the kind's prior and a title start
    assert {(s["kind"], s["id"]) for s in got} == {("area", "a"), ("case", "c"), ("document", "env")}


def test_suggestions_follow_the_item_when_it_changes_or_goes(city, index, django_capture_on_commit_callbacks):
    from datahub import facade

    index([item(key="x", title="旧标题公园")])
    assert titles(city.leader, "旧标") == ["旧标题公园"]
    index([item(key="x", title="新标题公园", level="restricted", department_id=city.transport.id)])
    assert titles(city.leader, "旧标") == []
    assert titles(city.leader, "新标") == ["新标题公园"]
    assert titles(city.officer, "新标") == []  # the access columns followed the item
    with django_capture_on_commit_callbacks(execute=True):
        facade.search_index_remove(kind="document", keys=["x"])
    assert titles(city.leader, "新标") == []
    assert not SearchSuggestion.objects.exists()


def test_a_deleted_item_takes_its_suggestions_with_it(city, index):
    index([item(key="y", title="体育馆")])
    assert SearchSuggestion.objects.filter(term="体育馆").exists()
    SearchItem.objects.filter(key="y").delete()
    assert not SearchSuggestion.objects.exists()  # the delete trigger


def test_a_suggestion_is_an_index_walk_that_stops_early(city, index):
    index([item(key=str(i), title=f"路灯不亮{i:03d}号") for i in range(200)])
    assert len(titles(city.leader, "路灯", limit=20)) == 20
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute(
            "EXPLAIN SELECT term FROM datahub_searchsuggestion WHERE term >= %s AND term < %s"
            " ORDER BY term, weight DESC LIMIT 1",
            ["路灯", "路灯\U0010ffff"],
        )
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")
    assert "search_suggestion_term" in plan and "Sort" not in plan


def test_odd_input_suggests_nothing_and_never_fails(city, index):
    index([item(key="z", title="公园")])
    for q in ["", " ", "'", "\\", "%", "_", ":*", "&|!()", "😀", "公园" * 500, "\U0010ffff"]:
        assert isinstance(selectors.suggest(user=city.leader, q=q), list)
    assert titles(city.leader, "%") == [] and titles(city.leader, "_") == []


def test_the_rebuild_gives_the_rows_the_upsert_wrote(city, index):
    from datahub.search import services

    index(
        [
            item(kind="facility", key="lib", title="望京图书馆", title_en="Wangjing Library"),
            item(key="r", title="噪音环境局案件", level="restricted", department_id=city.env.id, grants=["grid:7"]),
        ]
    )
    cols = ("item_id", "term", "weight", "level", "dept_path", "grants", "valid_from", "valid_until")
    before = sorted(SearchSuggestion.objects.values_list(*cols))
    assert services.search_suggestions_rebuild(batch_size=1) == 2
    assert sorted(SearchSuggestion.objects.values_list(*cols)) == before
    assert titles(city.officer, "zaoyin") == ["噪音环境局案件"]
