"""The cockpit in a browser: KPI tiles, clustered layers, drill-down into a district, the live
feed capped for a day on a wall display."""

import pytest

from tests.datahub.analysis.test_cockpit import _cases
from tests.datahub.core.factories import make_area
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_cockpit_shows_tiles_clusters_drill_down_and_a_bounded_feed(live_server, page):
    from cityos.roles import Role

    d1 = make_area(name="西湖区", name_en="Xihu", box=(120.0, 30.0, 0.1))
    make_area(name="上城区", name_en="Shangcheng", box=(120.1, 30.0, 0.1))
    _cases(5000, area=d1, size=0.1)
    leader = make_user(role=Role.CITY_LEADER)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", leader.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.goto(f"{live_server.url}/cockpit/")
    page.wait_for_function("document.querySelector('[data-kpi=cases_received]').textContent !== '–'")
    assert int(page.locator("[data-kpi=cases_received]").inner_text()) <= 5000
    page.wait_for_function("window.cockpit.state.layers.cases && window.cockpit.state.layers.cases.featureCount > 0")
    clusters = page.evaluate("window.cockpit.state.layers.cases.featureCount")
    assert 0 < clusters < 1000  # 5,000 points arrive as clusters
    # drill down: click the district on the map
    page.wait_for_selector("path.leaflet-interactive")
    page.locator("path.leaflet-interactive").first.click()
    page.wait_for_function("document.querySelectorAll('#crumbs a').length === 2")
    assert page.evaluate("window.cockpit.state.area") == str(d1.id)
    # a day of live events on a wall: the feed never grows beyond its cap
    page.evaluate(
        """for (let i = 0; i < 300; i++) document.dispatchEvent(new CustomEvent('cityos:live',
           {detail: {event: 'analysis.situation_detected', data: {title: 'x' + i, severity: 'high'}}}))"""
    )
    assert page.locator("#feed li").count() == page.evaluate("window.cockpit.FEED_MAX") == 50
    assert page.locator("#feed li").first.inner_text().endswith("x299")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.locator("#map").is_visible()


def test_a_day_of_overlapping_refreshes_keeps_one_copy_of_each_layer_and_the_heap_flat(live_server, page):
    """A wall display refreshes every minute and on every map move for a whole day: loads that
    overlap must replace the layer, not stack it, and the page's memory must not grow."""
    from cityos.roles import Role

    d1 = make_area(name="西湖区", name_en="Xihu", box=(120.0, 30.0, 0.1))
    _cases(3000, area=d1, size=0.1)
    leader = make_user(role=Role.CITY_LEADER)
    page.add_init_script(
        """window.__inflight = 0; const _f = window.fetch;
           window.fetch = function () { window.__inflight++;
             return _f.apply(this, arguments).finally(() => setTimeout(() => window.__inflight--, 50)); };"""
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", leader.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.goto(f"{live_server.url}/cockpit/")
    page.wait_for_function("window.cockpit.state.layers.cases && window.cockpit.state.layers.cases.featureCount > 0")
    page.wait_for_function("window.__inflight === 0")
    layers = page.evaluate("window.cockpit.layerCount()")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def heap_after(rounds: int) -> float:
        for _ in range(rounds):
            # a minute's refresh and map moves at once: their answers arrive in any order
            page.evaluate(
                "() => { for (let i = 0; i < 5; i++) { window.cockpit.refresh(); window.cockpit.map.fire('moveend'); } }"
            )
            page.wait_for_timeout(350)  # the moves' debounce
            page.wait_for_function("window.__inflight === 0")
        cdp.send("HeapProfiler.collectGarbage")
        return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}["JSHeapUsedSize"]

    first = heap_after(10)
    assert page.evaluate("window.cockpit.layerCount()") == layers  # replaced, not stacked
    later = heap_after(40)
    assert page.evaluate("window.cockpit.layerCount()") == layers
    print(f"cockpit heap after 100 loads {first / 1e6:.1f} MB, after 500 {later / 1e6:.1f} MB")
    assert later - first < 2e6  # 400 more overlapping loads: no growth beyond noise
