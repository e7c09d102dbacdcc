"""The catalogue pages, rendered by Django's test client against real imports."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cityos.roles import Role
from datahub.models import DatasetImport
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.factories import make_department, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]


def test_it_lists_and_filters_the_catalogue(client, user, department):
    make_dataset(owner_department=department, title="Air stations", tags=["environment"], level="internal")
    make_dataset(owner_department=make_department(), title="Secret list", level="restricted")
    make_dataset(owner_department=department, title="Bus stops", tags=["transport"])
    client.force_login(user)
    html = client.get("/datahub/datasets/").content.decode()
    assert "Air stations" in html and "Bus stops" in html and "Secret list" not in html
    html = client.get("/datahub/datasets/", {"tag": "transport"}).content.decode()
    assert "Bus stops" in html and "Air stations" not in html
    html = client.get("/datahub/datasets/", {"level": "internal"}).content.decode()
    assert "Air stations" in html and "Bus stops" not in html


def test_it_keeps_external_developers_out_of_the_pages(client):
    client.force_login(make_user(role=Role.EXTERNAL_DEVELOPER))
    assert client.get("/datahub/datasets/").status_code == 403


def test_it_creates_a_dataset_and_goes_to_the_import_wizard(client, user, department):
    client.force_login(user)
    resp = client.post(
        "/datahub/datasets/new/",
        {
            "title": "Street lights",
            "description": "",
            "owner_department": department.id,
            "tags": "lighting, 照明",
            "update_frequency": "monthly",
            "licence": "CC BY 4.0",
            "level": "public",
        },
    )
    assert resp.status_code == 302 and resp["Location"] == "/datahub/datasets/street-lights/import/"


def test_it_shows_schema_preview_map_data_versions_and_a_diff(client, user, department):
    ds = make_dataset(owner_department=department, title="Shops")
    run_import(ds, b"id,name,lat,lon\n1,Blue,30.1,120.1\n2,Red,30.2,120.2\n")
    run_import(ds, b"id,name,lat,lon\n1,Blue,30.1,120.1\n2,Crimson,30.2,120.2\n3,Green,30.3,120.3\n")
    client.force_login(user)
    resp = client.get(f"/datahub/datasets/{ds.slug}/", {"diff": "2"})
    html = resp.content.decode()
    assert 'id="dataset-map"' in html and '"coordinates": [120.3, 30.3]' in html
    assert "Crimson" in html and 'class="change-changed"' in html and 'class="change-added"' in html
    assert resp.context["diff"].changed == 1 and resp.context["diff"].added == 1
    assert f"/api/v1/datahub/datasets/{ds.slug}/export/geojson/" in html


def test_it_previews_an_upload_and_confirms_with_an_edited_schema(
    client, user, department, django_capture_on_commit_callbacks
):
    ds = make_dataset(owner_department=department)
    client.force_login(user)
    resp = client.post(
        f"/datahub/datasets/{ds.slug}/import/", {"file": SimpleUploadedFile("a.csv", b"code,amount\nA,1\nB,x\n")}
    )
    imp = DatasetImport.objects.get(dataset=ds)
    assert resp["Location"] == f"/datahub/imports/{imp.id}/"
    html = client.get(resp["Location"]).content.decode()
    assert 'id="confirm-form"' in html and "code" in html
    # The user makes amount an integer, code the primary key, and chooses to skip invalid rows.
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(
            f"/datahub/imports/{imp.id}/confirm/",
            {
                "type_0": "string",
                "pk_0": "on",
                "required_0": "on",
                "type_1": "integer",
                "unit_1": "kg",
                "mode": "upsert",
                "on_error": "skip",
            },
        )
    imp.refresh_from_db()
    assert imp.status == "queued" and len(callbacks) == 1
    assert imp.schema[0]["is_primary_key"] and imp.schema[1] == {
        "name": "amount",
        "type": "integer",
        "format": "",
        "unit": "kg",
        "required": False,
        "is_primary_key": False,
    }
    html = client.get(f"/datahub/imports/{imp.id}/").content.decode()
    assert 'id="progress-bar"' in html and 'id="cancel-import"' in html


def test_it_shows_why_an_upload_was_refused(client, user, department):
    ds = make_dataset(owner_department=department)
    client.force_login(user)
    resp = client.post(
        f"/datahub/datasets/{ds.slug}/import/", {"file": SimpleUploadedFile("a.json", b'[{"a": 1}, {"a": ')}
    )
    assert resp.status_code == 400
    assert "Invalid JSON at line 1" in resp.content.decode()
    assert not DatasetImport.objects.exists()


def test_it_cancels_a_queued_import_from_its_page(client, user, department):
    from datahub.datasets.services import datasets as svc
    from tests.datahub.datasets.factories import preview

    ds = make_dataset(owner_department=department)
    imp = preview(ds, b"id,v\n1,a\n", user=user)
    svc.dataset_import_confirm(imp=imp, queue=False)
    client.force_login(user)
    resp = client.post(f"/datahub/imports/{imp.id}/cancel/")
    assert resp.status_code == 302
    imp.refresh_from_db()
    assert imp.status == DatasetImport.Status.CANCELLED
    html = client.get(f"/datahub/imports/{imp.id}/").content.decode()
    assert 'data-status="cancelled"' in html and 'id="cancel-import"' not in html


def test_an_upload_without_a_file_answers_400_as_the_series_upload_does(client, user, department):
    ds = make_dataset(owner_department=department)
    client.force_login(user)
    resp = client.post(f"/datahub/datasets/{ds.slug}/import/", {"encoding": "utf-8"})
    assert resp.status_code == 400 and "file" in resp.context["form"].errors
    assert not DatasetImport.objects.filter(dataset=ds).exists()
