"""The 12345 intake desk in a browser: a point picked on the map, and a call answered on the spot."""

import pytest

from governance.models import Case, KnowledgeArticle
from tests.browser.test_governance import _login
from tests.governance.factories import MiniCity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_desk_creates_a_case_at_a_point_picked_on_the_map(live_server, page):
    from django.core.cache import cache

    cache.delete("cityos:basemap:v1")
    city = MiniCity()
    _login(page, live_server, city.dispatcher)
    page.goto(f"{live_server.url}/governance/intake/")
    # The base map (the city's own areas, no tile server configured) and its legend are drawn.
    page.wait_for_selector("#intake-map .leaflet-cityosBase-pane path")
    assert page.locator("#intake-map .cityos-legend li").count() >= 2
    page.fill("#id_reporter_phone", "13800001111")
    page.fill("#id_title", "长安街道夜间施工噪音")
    # The suggestion panel proposes the category with its confidence.
    page.wait_for_selector(f"#suggest-category [data-category='{city.noise.id}']")
    assert page.locator("#suggest-category .confidence").count() == 1
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    page.click("#use-category")
    page.wait_for_function(f"() => document.querySelector('#id_category').value === '{city.noise.id}'")
    # Click the map canvas: the centre of the view (the city's district after the base map fitted it).
    box = page.locator("#intake-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#picked-point[data-picked]")
    assert page.input_value("#id_lon") and page.input_value("#id_lat")
    page.click("#intake-submit")
    page.wait_for_selector("#case-status")
    case = Case.objects.get(title="长安街道夜间施工噪音")
    assert case.location is not None and case.district_id == city.district.id
    assert case.category_id == city.noise.id and case.channel == "hotline"


def test_a_call_answered_from_the_knowledge_base_is_counted(live_server, page):
    city = MiniCity()
    article = KnowledgeArticle.objects.create(
        question="居住证怎么办理？", answer="携带身份证和租房合同到街道便民服务中心办理。", keywords="居住证"
    )
    _login(page, live_server, city.dispatcher)
    page.goto(f"{live_server.url}/governance/intake/")
    assert page.inner_text("#answered-today") == "0"
    page.fill("#id_title", "咨询居住证办理")
    _answer_directly(page, article.id)
    page.wait_for_selector(".messages li")
    assert page.inner_text("#answered-today") == "1"
    case = Case.objects.get(title="咨询居住证办理")
    assert case.status == "closed" and case.transitions.filter(action="answer").exists()


def _answer_directly(page, article_id):
    """Click the article's "answered the caller" button once the suggestion panel has settled.

    The panel is swapped in by htmx (on load, on input after 600 ms, on change): on a loaded machine a
    late answer to an earlier request can replace the panel between Playwright's hit test and the click,
    and the click then lands on nothing. A person would click again; so does this helper, and only when
    the first click did not submit the form (no navigation)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    selector = f".answer-directly[data-answer='{article_id}']"
    for attempt in range(3):
        page.wait_for_selector(selector)
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
        try:
            with page.expect_navigation(timeout=15000):
                page.click(selector)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
