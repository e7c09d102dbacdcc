"""The import wizard in Chromium: upload → preview with schema and first errors → confirm → live progress."""

import pytest

from datahub.models import DatasetImport, DatasetRecord
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

SCHEMA = [
    {"name": "id", "type": "integer", "is_primary_key": True},
    {"name": "name", "type": "string"},
    {"name": "amount", "type": "decimal"},
    {"name": "lat", "type": "decimal"},
    {"name": "lon", "type": "decimal"},
]


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def test_it_imports_a_file_through_the_wizard_with_live_progress(
    live_server, page, user, department, celery_worker_process
):
    ds = make_dataset(owner_department=department, title="Shops")
    run_import(
        ds, b"id,name,amount,lat,lon\n1,Blue,10,30.1,120.1\n", schema=SCHEMA, location={"lat": "lat", "lon": "lon"}
    )
    _login(page, live_server, user)

    page.goto(f"{live_server.url}/datahub/datasets/{ds.slug}/import/")
    rows = "".join(f"{i},Shop {i},{i}.5,30.{i % 9 + 1},120.{i % 7 + 1}\n" for i in range(2, 400))
    page.set_input_files(
        "#id_file",
        files=[
            {
                "name": "shops.csv",
                "mimeType": "text/csv",
                "buffer": ("id,name,amount,lat,lon\n1,Blue,12,30.1,120.1\n2,Bad,lots,30.1,120.1\n" + rows).encode(),
            }
        ],
    )
    page.click("#upload-submit")

    # Step 2: the schema (the dataset's, kept), the first rows and the first error, named by row and column.
    page.wait_for_selector("#confirm-form")
    assert page.locator("tr[data-field=amount] select.field-type").input_value() == "decimal"
    assert page.locator("tr[data-field=id] input.field-pk").is_checked()
    first_error = page.locator("#errors li").first
    assert (first_error.get_attribute("data-row"), first_error.get_attribute("data-column")) == ("3", "amount")
    assert "lots" in first_error.inner_text()
    assert page.locator("#preview tbody tr").count() == 20
    page.select_option("#id_on_error", "skip")
    page.click("#confirm-import")

    # Step 3: a progress bar, a cancel button, and the result once the worker is done.
    page.wait_for_selector("#import-status")
    page.wait_for_selector("#import-status[data-status=partial]", timeout=30_000)
    assert page.locator("#progress-bar").get_attribute("style") == "width: 100%"
    assert page.locator("#error-report").is_visible()
    imp = DatasetImport.objects.get(dataset=ds, filename="shops.csv")
    assert imp.status == "partial" and imp.error_count == 1
    assert DatasetRecord.objects.filter(dataset=ds, version_to__isnull=True).count() == 399

    page.click("#to-dataset")
    page.wait_for_selector("#dataset-map .leaflet-interactive")
    assert page.locator("#dataset-version").inner_text() == "2"
    assert page.locator("#dataset-map .leaflet-interactive").count() == 399
    page.click("a[data-diff='2']")
    page.wait_for_selector("#diff-rows")
    # 398 added and 1 changed; the page lists the first 100 by key.
    assert page.locator("#diff-rows tbody tr").count() == 100
    assert page.locator("#diff-rows tr.change-changed").count() == 1
    imp.file.delete(save=False)
