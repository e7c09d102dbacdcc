"""`GET /api/v1/search/` and `/suggest/`: the response contract, filters, pagination, bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone

from .conftest import item

URL = "/api/v1/search/"


@pytest.fixture
def corpus(city, index):
    now = timezone.now()
    index(
        [
            item(
                kind="area",
                key=str(city.chaoyang.id),
                title="朝阳区",
                title_en="Chaoyang District",
                area_id=city.chaoyang.id,
                lon=120.05,
                lat=30.05,
            ),
            item(
                kind="facility",
                key="lib",
                title="望京图书馆",
                title_en="Wangjing Library",
                area_id=city.chaoyang_street.id,
                lon=120.01,
                lat=30.01,
                time=now,
            ),
            item(
                kind="facility",
                key="far",
                title="江南图书馆",
                title_en="Jiangnan Library",
                area_id=city.jiangnan.id,
                lon=120.25,
                lat=30.05,
                time=now - timedelta(days=400),
            ),
            item(
                kind="case",
                key="c",
                title="图书馆门口噪音",
                level="restricted",
                department_id=city.env.id,
                facets={"category": "noise"},
            ),
            *[item(kind="document", key=f"d{n}", title=f"图书馆新闻{n}") for n in range(25)],
        ]
    )
    return city


def test_the_response_has_the_contracted_shape(corpus, client):
    client.force_login(corpus.leader)
    body = client.get(URL, {"q": "图书馆"}).json()
    assert set(body) >= {"results", "facets", "parsed", "count"}
    assert body["count"] == 28
    first = body["results"][0]
    assert set(first) >= {"kind", "id", "title", "snippet", "url", "score", "area", "time"}
    assert set(body["facets"]) == {"kind", "area", "department", "time", "category"}
    assert len(body["results"]) == 20
    page2 = client.get(URL, {"q": "图书馆", "page": 2}).json()
    assert len(page2["results"]) == 8
    assert not {r["id"] for r in body["results"]} & {r["id"] for r in page2["results"]}


def test_anonymous_callers_get_public_items_only(corpus, client):
    body = client.get(URL, {"q": "图书馆"}).json()
    assert body["count"] == 27 and "c" not in {r["id"] for r in body["results"]}


def test_english_mode_shows_english_titles(corpus, client):
    body = client.get(URL, {"q": "wangjing library"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["results"][0]["title"] == "Wangjing Library"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "facility"}, {"lib", "far"}),
        ({"kind": "facility,case"}, {"lib", "far"}),
        ("area", {"lib"}),
        ({"bbox": "120.0,30.0,120.1,30.1", "kind": "facility"}, {"lib"}),
        ({"near": "120.01,30.01", "radius": "500"}, {"lib"}),
        ({"since": "2026-01-01", "kind": "facility"}, {"lib"}),
    ],
)
def test_filters(corpus, client, params, expected):
    if params == "area":
        params = {"area": corpus.chaoyang.id, "kind": "facility"}
    body = client.get(URL, {"q": "图书馆", **params}).json()
    assert {r["id"] for r in body["results"]} == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"near": "500,1"}, "near"),
        ({"since": "yesterday"}, "since"),
        ({"page": "0"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"area": "x"}, "area"),
        ({"status": "lost"}, "status"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(corpus, client, params, field):
    resp = client.get(URL, params)
    assert resp.status_code == 400
    assert field in str(resp.json())


BAD_QUERIES = [
    "",
    "图",
    "a",
    "x" * 2000,
    "噪音" * 1000,
    "&|!():*'\\",
    "'; DROP TABLE datahub_searchitem; --",
    "a & b | !c <-> d:*",
    '"unclosed phrase',
    '""',
    "- -- ---",
    "😀🚀",
    "噪音😀noise投诉123",
    "朝阳区chaoyang의 路",
    "\x00\x01",
    "%_%",
    "２０２６年１１月",
]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_bad_input_never_causes_a_500(corpus, client, q):
    client.force_login(corpus.officer)
    for url in (URL, URL + "suggest/", "/search/"):
        resp = client.get(url, {"q": q})
        # NUL characters are refused by name (a 400 naming q); everything else is searched.
        assert resp.status_code == (400 if "\x00" in q else 200), (url, q, resp.content[:300])


def test_suggestions_answer_as_you_type(corpus, client):
    body = client.get(URL + "suggest/", {"q": "wangj"}).json()
    assert body["results"][0]["title"] == "望京图书馆"
    assert client.get(URL + "suggest/", {"q": ""}).json() == {"results": []}
