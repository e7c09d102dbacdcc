"""Series imports over the API (token auth, JSON errors naming the problem) and on the pages."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from datahub.iot.services import series_imports as svc
from datahub.models import Run, SeriesImport
from tests.datahub.iot.factories import make_device
from tests.factories import make_department, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "media_tmp")]

CSV = "time,station,PM2.5\n2025-03-01T00:00:00,api-st,1\n2025-03-01T01:00:00,api-st,x\n2025-03-01T02:00:00,api-st,3\n"
MAPPING = {"layout": "long", "time_column": "time", "device_column": "station", "value_columns": {"PM2.5": "pm25"}}


@pytest.fixture
def officer():
    return make_user(role="department_officer", department=make_department())


@pytest.fixture
def token_client(api_client, officer):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=officer).key}")
    return api_client


@pytest.fixture
def stream(officer):
    _device, streams, _ = make_device(key="api-st", owner_department_id=officer.department_id)
    return streams["pm25"]


def upload(client, text: str = CSV, name: str = "s.csv"):
    return client.post(
        "/api/v1/datahub/series-imports/", {"file": SimpleUploadedFile(name, text.encode())}, format="multipart"
    )


def test_it_uploads_checks_and_confirms_an_import_with_a_token(token_client, stream, monkeypatch):
    queued = []
    monkeypatch.setattr(svc, "_queue", lambda import_id, countdown=None: queued.append(import_id))
    resp = upload(token_client)
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "previewed" and body["preview"]["columns"] == ["time", "station", "PM2.5"]
    assert body["preview"]["rows"][1] == ["2025-03-01T01:00:00", "api-st", "x"]
    check = token_client.post(
        f"/api/v1/datahub/series-imports/{body['id']}/check/", {"mapping": MAPPING}, format="json"
    )
    assert check.status_code == 200
    assert check.json()["readings"] == 2 and check.json()["datastreams"] == [stream.id]
    assert check.json()["errors"] == [{"row": 3, "column": "PM2.5", "reason": "'x' is not a number"}]
    resp = token_client.post(
        f"/api/v1/datahub/series-imports/{body['id']}/confirm/", {"mapping": MAPPING}, format="json"
    )
    assert resp.status_code == 202 and resp.json()["status"] == "queued" and queued == [body["id"]]
    svc.series_import_execute(import_id=body["id"])
    detail = token_client.get(f"/api/v1/datahub/series-imports/{body['id']}/").json()
    assert (detail["status"], detail["rows_stored"], detail["rows_rejected"], detail["progress"]) == (
        "partial",
        2,
        1,
        1.0,
    )
    assert detail["errors"][0] == {"row": 3, "column": "PM2.5", "reason": "'x' is not a number"}
    again = token_client.post(
        f"/api/v1/datahub/series-imports/{body['id']}/confirm/", {"mapping": MAPPING}, format="json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    cancel = token_client.post(f"/api/v1/datahub/series-imports/{body['id']}/cancel/")
    assert cancel.status_code == 409


def test_a_bad_mapping_is_a_400_naming_the_key(token_client, stream):
    imp_id = upload(token_client).json()["id"]
    url = f"/api/v1/datahub/series-imports/{imp_id}/check/"
    resp = token_client.post(url, {"mapping": MAPPING | {"time_column": "when"}}, format="json")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "invalid_mapping" and "'when' not in the header" in err["message"]
    assert list(err["fields"]) == ["time_column"]
    resp = token_client.post(url, {"mapping": MAPPING | {"tz": "Nowhere/City"}}, format="json")
    assert resp.json()["error"]["fields"] == {"tz": ["unknown time zone 'Nowhere/City'"]}
    resp = token_client.post(url, {}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "validation_error"


def test_it_refuses_bad_files_with_a_clear_code(token_client):
    resp = upload(token_client, "")
    assert resp.status_code == 400 and "empty" in resp.json()["error"]["message"]
    resp = upload(token_client, "\n\n")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "empty_file"
    resp = upload(token_client, "a,a\n1,2\n")
    assert resp.status_code == 400 and "twice" in resp.json()["error"]["message"]
    resp = upload(token_client, "x", name="s.xlsx")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "unsupported_format"


def test_it_keeps_imports_to_importers_and_to_their_owner(api_client, token_client, stream):
    imp_id = upload(token_client).json()["id"]
    api_client.force_authenticate(make_user(role="analyst"))
    assert upload(api_client).status_code == 403
    assert api_client.get(f"/api/v1/datahub/series-imports/{imp_id}/").status_code == 404
    api_client.force_authenticate(make_user(role="department_officer", department=make_department()))
    assert api_client.get(f"/api/v1/datahub/series-imports/{imp_id}/").status_code == 404
    api_client.force_authenticate(make_user(role="administrator"))
    assert api_client.get("/api/v1/datahub/series-imports/").json()["count"] == 1


def test_the_mapping_form_offers_only_the_datastreams_the_user_may_write(token_client, stream):
    make_device(key="not-mine", owner_department_id=make_department().id)
    data = token_client.get("/api/v1/datahub/series-imports/datastreams/").json()
    assert [d["label"] for d in data["results"]] == ["api-st / pm25"]


def test_the_schema_documents_the_series_import_endpoints(api_client):
    api_client.force_authenticate(make_user(role="administrator"))
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    for path in ("", "{id}/", "{id}/check/", "{id}/confirm/", "{id}/cancel/", "datastreams/"):
        assert f"/api/v1/datahub/series-imports/{path}" in schema["paths"], path


# --- pages ----------------------------------------------------------------------------------------


def test_the_pages_take_a_file_through_preview_check_and_confirm(client, officer, stream, monkeypatch):
    monkeypatch.setattr(svc, "_queue", lambda import_id, countdown=None: None)
    client.force_login(officer)
    html = client.get("/datahub/iot/imports/").content.decode()
    assert 'id="upload-form"' in html and "Series imports" in html  # and in the navigation
    resp = client.post("/datahub/iot/imports/", {"file": SimpleUploadedFile("page.csv", CSV.encode())})
    imp = SeriesImport.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/datahub/iot/imports/{imp.id}/"
    html = client.get(resp["Location"]).content.decode()
    assert 'id="preview"' in html and "api-st" in html and 'name="metric_2"' in html
    form = {
        "layout": "long",
        "time_mode": "column",
        "time_column": "time",
        "time_format": "",
        "tz": "UTC",
        "device_mode": "column",
        "device_column": "station",
        "value_mode": "columns",
        "metric_2": "pm25",
        "na_values": "NA",
    }
    resp = client.post(resp["Location"], form | {"action": "check"})
    html = resp.content.decode()
    assert resp.status_code == 200 and 'id="check-report"' in html
    assert "row 3, column PM2.5: &#x27;x&#x27; is not a number" in html
    resp = client.post(f"/datahub/iot/imports/{imp.id}/", form | {"time_column": "", "action": "check"})
    assert resp.status_code == 400 and "time column, time parts, or a start and step" in resp.content.decode()
    resp = client.post(f"/datahub/iot/imports/{imp.id}/", form | {"action": "confirm"})
    assert resp.status_code == 302
    imp.refresh_from_db()
    assert imp.status == "queued" and imp.mapping["value_columns"] == {"PM2.5": "pm25"}
    html = client.get(f"/datahub/iot/imports/{imp.id}/").content.decode()
    assert 'id="progress-bar"' in html and 'id="cancel-import"' in html and "import_progress.js" in html
    resp = client.post(f"/datahub/iot/imports/{imp.id}/cancel/")
    imp.refresh_from_db()
    assert resp.status_code == 302 and imp.status == "cancelled"
    assert Run.objects.get(id=imp.run_id).status == "cancelled"


def test_the_import_pages_are_for_importers_only(client):
    client.force_login(make_user(role="analyst"))
    assert client.get("/datahub/iot/imports/").status_code == 403
    assert "/datahub/iot/imports/" not in client.get("/datahub/iot/datastreams/").content.decode()


def test_the_admin_lists_series_imports_read_only(client, token_client, stream):
    imp_id = upload(token_client).json()["id"]
    client.force_login(make_user(role="administrator", is_staff=True, is_superuser=True))
    assert client.get("/admin/datahub/seriesimport/").status_code == 200
    assert client.get(f"/admin/datahub/seriesimport/{imp_id}/change/").status_code == 200
    assert client.get("/admin/datahub/seriesimport/add/").status_code == 403
