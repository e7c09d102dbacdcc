"""Chinese and English matching: substrings, compound words, pinyin, stemming, synonyms, typos,
phrases and exclusions."""

import pytest

from datahub.models import SearchSynonym
from datahub.search import selectors

from .conftest import item

ITEMS = [
    item(
        kind="enterprise",
        key="bank",
        title="中国农业发展银行滨江支行",
        title_en="Agricultural Development Bank of China",
        identifiers="91330100MA27XYZ12X",
    ),
    item(kind="case", key="c1", title="望京街道待处理噪音投诉", body="楼下酒吧音乐太吵到半夜"),
    item(kind="area", key="cy", title="朝阳区", title_en="Chaoyang District"),
    item(
        kind="dataset",
        key="roads",
        title="城市道路养护记录",
        title_en="Road maintenance records",
        body="maintained roads and bridges",
    ),
    item(
        kind="document",
        key="en1",
        title="Residents complain about running water pumps at night",
        body_en="Pumps were running loudly",
    ),
    item(kind="case", key="hot", title="12345热线来电统计"),
    item(kind="facility", key="lib", title="长安街道图书馆分馆", title_en="Chang'an Branch Library"),
]


@pytest.fixture
def corpus(city, index):
    index(ITEMS)
    return city


def keys(user, q, **kw) -> list[str]:
    return [
        r["id"]
        for r in selectors.search(user=user, req=selectors.SearchRequest(q=q, understand=False, **kw))["results"]
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("农业", "bank"),  # a word inside a compound (jieba search mode would split it; bigrams find it)
        ("农业发展银行", "bank"),
        ("处理", "c1"),  # a substring: 处理 in 待处理
        ("待处理", "c1"),
        ("太吵", "c1"),  # in the body
        ("朝阳", "cy"),
        ("91330100MA27", "bank"),  # a code's prefix
        ("91330100ma27xyz12x", "bank"),  # codes ignore case
    ],
)
def test_chinese_substrings_and_codes_match(corpus, q, expected):
    assert expected in keys(corpus.leader, q)


@pytest.mark.parametrize(
    ("q", "expected"), [("chaoyang", "cy"), ("cy", "cy"), ("nongye", "bank"), ("wangjing", "c1"), ("CHAOYANG", "cy")]
)
def test_pinyin_and_initials_find_chinese_titles(corpus, q, expected):
    assert keys(corpus.leader, q)[0] == expected


@pytest.mark.parametrize(
    ("q", "expected"), [("run", "en1"), ("running", "en1"), ("pump", "en1"), ("road", "roads"), ("libraries", "lib")]
)
def test_english_is_stemmed(corpus, q, expected):
    assert expected in keys(corpus.leader, q)


def test_synonyms_seeded_and_edited_in_the_admin_expand_a_query(corpus):
    assert "roads" in keys(corpus.leader, "马路")  # seeded group 马路,道路,…
    assert "hot" in keys(corpus.leader, "hotline")
    assert keys(corpus.leader, "藏书楼") == []
    SearchSynonym.objects.create(terms="藏书楼,图书馆")
    selectors.synonyms_reset()
    assert keys(corpus.leader, "藏书楼") == ["lib"]


@pytest.mark.parametrize(("q", "expected"), [("agricultral", "bank"), ("chaoyagn", "cy"), ("residnets", "en1")])
def test_latin_typos_are_tolerated(corpus, q, expected):
    assert expected in keys(corpus.leader, q)


def test_a_query_with_no_result_gets_a_did_you_mean(corpus):
    r = selectors.search(user=corpus.leader, req=selectors.SearchRequest(q="zzzqqq", understand=False))
    assert r["count"] == 0 and r["did_you_mean"] is None
    r = selectors.search(user=corpus.leader, req=selectors.SearchRequest(q="libary xqzv", understand=False))
    assert r["count"] >= 1  # relaxed: either word
    r = selectors.search(user=corpus.leader, req=selectors.SearchRequest(q="resdents xqzvw", understand=False))
    assert r["parsed"]["relaxed"] is True


def test_quoted_phrases_must_be_contiguous(corpus, index):
    index([item(kind="document", key="apart", title="农业 和 发展")])
    assert "apart" in keys(corpus.leader, "农业 发展")
    assert keys(corpus.leader, '"农业发展"') == ["bank"]
    assert keys(corpus.leader, '"running water"') == ["en1"]
    assert keys(corpus.leader, '"water running"') == []


def test_minus_excludes_a_word(corpus):
    assert set(keys(corpus.leader, "朝阳")) >= {"cy"}
    assert "c1" in keys(corpus.leader, "街道")
    assert "c1" not in keys(corpus.leader, "街道 -噪音")
    assert "lib" in keys(corpus.leader, "街道 -噪音")


def test_title_matches_rank_above_body_matches_and_exact_titles_first(corpus, index):
    index(
        [
            item(kind="document", key="body", title="每周简报", body="内容提到朝阳区的绿化"),
            item(kind="document", key="title", title="朝阳区绿化方案", body="…"),
        ]
    )
    ranked = keys(corpus.leader, "朝阳区")
    assert ranked[0] == "cy"  # the exact title
    assert ranked.index("title") < ranked.index("body")


def test_snippets_highlight_the_words_and_escape_html(corpus, index):
    index([item(kind="document", key="x", title="<b>噪音</b>", body="夜间施工噪音<script>")])
    r = selectors.search(user=corpus.leader, req=selectors.SearchRequest(q="噪音", understand=False))
    hit = next(x for x in r["results"] if x["id"] == "x")
    assert "<mark>噪音</mark>" in hit["snippet"] and "<script>" not in hit["snippet"]
    assert "&lt;b&gt;<mark>噪音</mark>" in hit["title_html"]


def test_suggestions_complete_the_last_word(corpus):
    titles = [s["title"] for s in selectors.suggest(user=corpus.leader, q="chaoy")]
    assert titles[0] == "朝阳区"
    assert [s["title"] for s in selectors.suggest(user=corpus.leader, q="农业发")] == ["中国农业发展银行滨江支行"]
