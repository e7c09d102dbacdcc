from datetime import UTC, datetime, timedelta

import pytest

from datahub.iot.services import ingest as iot_ingest
from tests.datahub.iot.factories import make_device
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def test_it_charts_a_device_history_and_switches_resolution(live_server, page, user):
    device, s, _ = make_device(name="江南空气站", lon=120.0, lat=30.1, expected_interval_s=60)
    end = datetime(2026, 3, 20, tzinfo=UTC)
    rows = [(s["pm25"].id, (end - timedelta(minutes=10 * i)).timestamp(), 20 + i % 7) for i in range(3000)]
    iot_ingest.observations_store(rows=rows)
    login(page, live_server, user)
    page.goto(f"{live_server.url}/datahub/iot/devices/{device.id}/")
    assert page.locator("#page-title").inner_text() == "江南空气站"
    page.wait_for_selector("#history-chart canvas")
    # 30 days of 10-minute data: auto picks hourly rollups (720 points)
    page.wait_for_function("document.getElementById('series-resolution').textContent === 'hour'")
    # 3000 readings every 10 min reach back 499 h 50 min from midnight: 501 hourly buckets
    assert int(page.locator("#series-count").inner_text()) == 501
    page.click("button.res[data-res=day]")
    page.wait_for_function("document.getElementById('series-resolution').textContent === 'day'")
    assert 20 <= int(page.locator("#series-count").inner_text()) <= 22
    page.click("button.res[data-res=raw]")
    page.wait_for_function("document.getElementById('series-count').textContent === '3000'")
    assert "/export/" in page.locator("#export-link").get_attribute("href")


def test_it_shows_devices_on_the_map_and_lists_datastreams(live_server, page, user):
    device, s, _ = make_device(name="水位站", lon=120.05, lat=30.12, device_type="water_level")
    login(page, live_server, user)
    page.goto(f"{live_server.url}/datahub/iot/map/")
    page.wait_for_selector("#device-map .leaflet-interactive")
    page.goto(f"{live_server.url}/datahub/iot/datastreams/")
    assert "水位站" in page.locator("#datastream-table").inner_text()
    page.goto(f"{live_server.url}/datahub/iot/monitor/")
    page.wait_for_selector("#rate-chart canvas")
