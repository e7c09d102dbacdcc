"""Query understanding: places, times, kinds, categories and statuses become filters and chips."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from datahub.search import parse, selectors

from .conftest import item

NOW = timezone.make_aware(datetime.combine(date(2026, 12, 3), time(10, 0)))  # a Thursday


def _day(d: date):
    return timezone.make_aware(datetime.combine(d, time.min))


CATEGORIES = {"噪音扰民": "noise", "噪音": "noise", "noise": "noise", "路灯故障": "streetlight"}


def test_the_compound_example_is_understood(city):
    p = parse.parse("朝阳区上周噪音投诉", categories=CATEGORIES, now=NOW)
    assert p.kinds == ["case"]
    assert p.area_id == city.chaoyang.id and p.area_name == "朝阳区"
    assert p.since == _day(date(2026, 11, 23)) and p.until == _day(date(2026, 11, 30))
    assert p.category == "noise"
    assert p.text == ""
    assert {c["field"] for c in p.chips} == {"kind", "area", "time", "category"}


@pytest.mark.parametrize(
    ("q", "since", "until"),
    [
        ("昨天", date(2026, 12, 2), date(2026, 12, 3)),
        ("最近三天", date(2026, 12, 1), None),
        ("近7天", date(2026, 11, 27), None),
        ("last week", date(2026, 11, 23), date(2026, 11, 30)),
        ("since monday", date(2026, 11, 30), None),
        ("2026-11-05", date(2026, 11, 5), date(2026, 11, 6)),
        ("2026年11月", date(2026, 11, 1), date(2026, 12, 1)),
        ("11月5日", date(2026, 11, 5), date(2026, 11, 6)),
        ("本月", date(2026, 12, 1), None),
        ("上个月", date(2026, 11, 1), date(2026, 12, 1)),
    ],
)
def test_times_are_understood(db, q, since, until):
    p = parse.parse(q, now=NOW)
    assert p.since == _day(since)
    assert p.until == (_day(until) if until else None)
    assert p.text == ""


def test_an_impossible_date_is_left_as_text(db):
    p = parse.parse("2026-13-45", now=NOW)
    assert p.since is None and p.text == "2026-13-45"


@pytest.mark.parametrize(
    ("q", "kinds", "status", "text"),
    [
        ("超期工单", ["case"], "overdue", ""),
        ("未处理 路灯", [], "open", "路灯"),
        ("overdue complaints", ["case"], "overdue", ""),
        ("企业 农业", ["enterprise"], None, "农业"),
        ("PM2.5", ["datastream"], None, ""),
    ],
)
def test_kinds_and_statuses_are_understood(db, q, kinds, status, text):
    p = parse.parse(q, now=NOW)
    assert p.kinds == kinds and p.status == status and p.text == text


def test_a_category_word_alone_stays_a_word(db):
    p = parse.parse("噪音", categories=CATEGORIES, now=NOW)
    assert p.category is None and p.text == "噪音"


def test_english_place_names_are_understood(city):
    p = parse.parse("noise complaints in Chaoyang", categories=CATEGORIES, now=NOW)
    assert p.area_id == city.chaoyang.id and p.kinds == ["case"] and p.category == "noise"
    assert p.text == "in"


def test_a_removed_chip_leaves_the_words_as_text(city):
    p = parse.parse("朝阳区上周噪音投诉", categories=CATEGORIES, ignore={"area", "time"}, now=NOW)
    assert p.area_id is None and p.since is None and "朝阳区" in p.text and "上周" in p.text


def test_the_search_applies_the_parse_and_a_parse_only_query_returns_results(city, index):
    now = timezone.now()
    index(
        [
            item(
                kind="case",
                key="new",
                title="楼下噪音",
                time=now - timedelta(hours=2),
                area_id=city.chaoyang_street.id,
                facets={"category": "noise", "state": "open"},
            ),
            item(
                kind="case",
                key="old",
                title="楼下噪音",
                time=now - timedelta(days=40),
                area_id=city.chaoyang.id,
                facets={"category": "noise", "state": "open"},
            ),
            item(
                kind="case",
                key="south",
                title="楼下噪音",
                time=now - timedelta(hours=2),
                area_id=city.jiangnan.id,
                facets={"category": "noise", "state": "done"},
            ),
            item(
                kind="document",
                key="doc",
                title="朝阳区噪音新闻",
                time=now - timedelta(hours=2),
                area_id=city.chaoyang.id,
            ),
        ]
    )
    r = selectors.search(user=city.leader, req=selectors.SearchRequest(q="朝阳区 投诉"))
    assert {x["id"] for x in r["results"]} == {"new", "old"}
    assert r["parsed"]["kind"] == ["case"] and r["parsed"]["area"]["id"] == city.chaoyang.id
    r = selectors.search(user=city.leader, req=selectors.SearchRequest(q="最近三天"))
    assert {x["id"] for x in r["results"]} == {"new", "south", "doc"}
    r = selectors.search(user=city.leader, req=selectors.SearchRequest(q="未处理工单"))
    assert {x["id"] for x in r["results"]} == {"new", "old"}


def test_overdue_means_open_and_past_due(city, index):
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    index(
        [
            item(kind="case", key="late", title="a", facets={"state": "open", "due": past}),
            item(kind="case", key="ok", title="b", facets={"state": "open", "due": future}),
            item(kind="case", key="done", title="c", facets={"state": "done"}),
        ]
    )
    r = selectors.search(user=city.leader, req=selectors.SearchRequest(q="超期"))
    assert [x["id"] for x in r["results"]] == ["late"]
