"""The analysis pages in a browser: trends explorer, hotspots with the time slider, the
situations inbox (confirm), briefings archive, efficiency; navigation; a phone-width screen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from datahub.analysis import demo
from datahub.analysis.services import briefing, situations
from datahub.models import Situation
from tests.datahub.analysis.factories import demo_daily_counts, write_daily_events
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_walks_through_the_analysis_pages(live_server, page):
    from cityos.roles import Role

    [d1] = demo.make_districts(1)
    today = timezone.localdate()
    start = today - timedelta(days=89)
    write_daily_events(
        demo_daily_counts(90), start=start, area=d1, lonlat=(120.05, 30.05), payload={"category": "noise"}
    )
    truth = demo.generate_month(
        districts=[d1],
        start=timezone.now() - timedelta(days=3),
        days=3,
        injected=1,
        seed=3,
        alert_rate_per_day=0,
        spike_rate_per_day=0,
        risk_rate_per_day=0,
    )
    situations.situations_detect(until=truth[0].at + timedelta(hours=8))
    briefing.briefing_generate(day=today - timedelta(days=1))
    user = make_user(role=Role.ANALYST)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")

    page.goto(f"{live_server.url}/analysis/")
    page.wait_for_function("window.trendReport !== undefined")
    assert page.evaluate("window.trendReport.forecast.length") == 14
    assert page.locator("[data-nav=analysis-cockpit]").count() == 1

    page.goto(f"{live_server.url}/analysis/hotspots/")
    page.wait_for_function("document.getElementById('hs-summary').textContent.length > 0")
    page.locator("#slider").fill("3")
    assert page.locator("#slider-out").inner_text().startswith("3")

    page.goto(f"{live_server.url}/analysis/situations/")
    card = page.locator("#situations li.card").first
    assert card.locator("p").inner_text()
    card.locator("button[value=confirmed]").click()
    page.wait_for_load_state()
    assert Situation.objects.get().status == "confirmed"

    page.goto(f"{live_server.url}/analysis/briefings/")
    page.locator("#briefings a").first.click()
    page.wait_for_selector("[data-kpi=cases-received]")

    page.goto(f"{live_server.url}/analysis/efficiency/")
    assert page.locator("#efficiency").is_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}/analysis/situations/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
