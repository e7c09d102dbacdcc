"""The series import in Chromium: upload -> preview and mapping -> check (bad cells by row and
column) -> import in the real worker with a live progress bar -> result."""

from datetime import UTC, datetime, timedelta

import pytest

from datahub.models import SeriesImport
from tests.datahub.iot.factories import make_device
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def test_it_imports_a_series_file_with_a_checked_mapping_and_live_progress(
    live_server, page, user, department, celery_worker_process
):
    make_device(key="bws-1", owner_department_id=department.id, metrics=(("pm25", "", 0, 5000),))
    _login(page, live_server, user)
    page.goto(f"{live_server.url}/datahub/iot/imports/")
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    rows = "".join(f"{(t0 + timedelta(hours=i)).isoformat()},bws-1,{i}\n" for i in range(2000))
    text = "time,station,PM2.5\n2025-02-28T23:00:00,bws-1,n/a?\n" + rows
    page.set_input_files("#id_file", files=[{"name": "pm.csv", "mimeType": "text/csv", "buffer": text.encode()}])
    page.click("#upload-submit")

    # Step 2: first rows and the suggested mapping (a long file with a device column).
    page.wait_for_selector("#mapping-form")
    assert page.locator("#preview tbody tr").count() == 20
    assert page.locator("#time-column").input_value() == "time"
    assert page.locator("#device-column").input_value() == "station"
    page.fill("input[name=metric_2]", "pm25")
    page.click("#check-mapping")
    page.wait_for_selector("#check-report")
    bad = page.locator("#check-errors li").first
    assert (bad.get_attribute("data-row"), bad.get_attribute("data-column")) == ("2", "PM2.5")
    assert page.locator("input[name=metric_2]").input_value() == "pm25"  # the form keeps the choices
    page.click("#confirm-import")

    # Step 3: the worker runs it; the bar fills and the page shows the result.
    page.wait_for_selector("#import-status")
    page.wait_for_selector("#import-status[data-status=partial]", timeout=60_000)
    assert page.locator("#progress-bar").get_attribute("style") == "width: 100%"
    assert page.locator("#rows-stored").inner_text() == "2000"
    assert page.locator("#errors li").first.get_attribute("data-row") == "2"
    imp = SeriesImport.objects.get(filename="pm.csv")
    assert imp.status == "partial" and imp.run.rows_stored == 2000
