"""The results page and the search box in the header of every staff page."""

import pytest

from .conftest import item


@pytest.fixture
def corpus(city, index):
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
                kind="case",
                key="c",
                title="朝阳区噪音投诉",
                level="restricted",
                department_id=city.env.id,
                area_id=city.chaoyang.id,
            ),
        ]
    )
    return city


def test_every_staff_page_has_the_search_box_in_its_header(corpus, client):
    client.force_login(corpus.officer)
    html = client.get("/").content.decode()
    assert 'id="header-search"' in html and 'action="/search/"' in html


def test_the_results_page_shows_results_facets_chips_and_the_map_toggle(corpus, client):
    client.force_login(corpus.leader)
    html = client.get("/search/", {"q": "朝阳区噪音投诉"}).content.decode()
    assert "<mark>噪音</mark>" in html and 'id="map-toggle"' in html and 'id="search-points"' in html
    assert 'class="chip" data-field="kind"' in html and 'class="chip" data-field="area"' in html
    assert 'data-facet="kind"' in html


def test_removing_a_chip_searches_the_words_again(corpus, client):
    client.force_login(corpus.leader)
    html = client.get("/search/", {"q": "朝阳区投诉", "ignore": "kind"}).content.decode()
    assert 'data-field="kind"' not in html


def test_anonymous_visitors_find_public_items_only(corpus, client):
    html = client.get("/search/", {"q": "朝阳"}).content.decode()
    results = html.split('id="results"')[1]
    assert "朝阳区" in results and "噪音" not in results


def test_the_page_speaks_english(corpus, client):
    client.force_login(corpus.leader)
    html = client.get("/search/", {"q": "chaoyang"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Chaoyang District" in html


def test_a_bad_parameter_is_shown_not_a_500(corpus, client):
    resp = client.get("/search/", {"q": "x", "bbox": "1,2"})
    assert resp.status_code == 400 and "bbox" in resp.content.decode()
