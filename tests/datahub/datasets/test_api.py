"""`/api/v1/datahub/datasets/…`: access by level and department, records queries, exports, imports."""

import csv
import io
import json

import openpyxl
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.files.uploadedfile import SimpleUploadedFile

from cityos.roles import Role
from datahub.models import Area, Dataset, DatasetImport, DatasetRecord
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.factories import make_department, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]

SHOPS = (
    b"id,name,kind,opened,revenue,lat,lon\n"
    b"1,Blue Cafe,cafe,2023-01-10,120.5,30.05,120.05\n"
    b"2,Red Books,books,2023-03-01,80,30.15,120.15\n"
    b"3,Green Cafe,cafe,2024-06-30,300,31.5,121.5\n"
    b"4,Old Mill,bakery,2022-12-01,,,\n"
)


@pytest.fixture
def shops(department):
    ds = make_dataset(owner_department=department, title="Shops", level=Dataset.Level.PUBLIC)
    run_import(ds, SHOPS)
    ds.refresh_from_db()
    return ds


def _client(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def _records(client, ds, **params):
    resp = client.get(f"/api/v1/datahub/datasets/{ds.slug}/records/", params)
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_it_shows_each_level_to_the_right_people(api_client):
    bureau = make_department()
    office = make_department(parent=bureau)
    other = make_department()
    public = make_dataset(owner_department=office, level="public")
    internal = make_dataset(owner_department=office, level="internal")
    restricted = make_dataset(owner_department=bureau, level="restricted")
    office_restricted = make_dataset(owner_department=office, level="restricted")

    def visible(user):
        resp = _client(api_client, user).get("/api/v1/datahub/datasets/", {"page_size": 100})
        return {d["slug"] for d in resp.json()["results"]}

    developer = make_user(role=Role.EXTERNAL_DEVELOPER)
    assert visible(developer) == {public.slug}
    outsider = make_user(department=other)
    assert visible(outsider) == {public.slug, internal.slug}
    # The owner's subtree (an office under the bureau) and the owner's parent see restricted data.
    assert visible(make_user(department=office)) == {
        public.slug,
        internal.slug,
        restricted.slug,
        office_restricted.slug,
    }
    assert visible(make_user(department=bureau)) == {
        public.slug,
        internal.slug,
        restricted.slug,
        office_restricted.slug,
    }
    assert len(visible(make_user(role=Role.CITY_LEADER))) == 4
    resp = _client(api_client, outsider).get(f"/api/v1/datahub/datasets/{restricted.slug}/records/")
    assert resp.status_code == 404


def test_it_filters_the_catalogue_by_tag_department_and_text(auth_client, department):
    a = make_dataset(owner_department=department, title="Air quality stations", tags=["environment"])
    make_dataset(owner_department=make_department(), title="Bus stops", tags=["transport"])
    resp = auth_client.get("/api/v1/datahub/datasets/", {"tag": "environment"})
    assert [d["slug"] for d in resp.json()["results"]] == [a.slug]
    resp = auth_client.get("/api/v1/datahub/datasets/", {"q": "air"})
    assert [d["slug"] for d in resp.json()["results"]] == [a.slug]
    resp = auth_client.get("/api/v1/datahub/datasets/", {"owner_department": department.id})
    assert [d["slug"] for d in resp.json()["results"]] == [a.slug]


def test_it_filters_records_by_field_values_ranges_and_json_filters(auth_client, shops):
    assert [r["key"] for r in _records(auth_client, shops, kind="cafe")["results"]] == ["1", "3"]
    assert [r["key"] for r in _records(auth_client, shops, revenue__gte="100")["results"]] == ["1", "3"]
    assert [r["key"] for r in _records(auth_client, shops, opened__lt="2023-02-01")["results"]] == ["1", "4"]
    got = _records(auth_client, shops, filters=json.dumps({"kind": ["books", "bakery"]}))
    assert [r["key"] for r in got["results"]] == ["2", "4"]
    assert [r["key"] for r in _records(auth_client, shops, id="2")["results"]] == ["2"]  # typed: 2, not "2"
    assert _records(auth_client, shops, id="2", fields="name,kind")["results"][0]["data"] == {
        "name": "Red Books",
        "kind": "books",
    }


def test_it_searches_full_text_and_sorts_by_typed_values(auth_client, shops):
    assert [r["key"] for r in _records(auth_client, shops, q="cafe")["results"]] == ["1", "3"]
    got = _records(auth_client, shops, sort="-revenue")["results"]
    assert [r["data"]["revenue"] for r in got] == [300, 120.5, 80, None]


def test_it_filters_by_bounding_box_and_within_an_area(auth_client, shops):
    got = _records(auth_client, shops, bbox="120,30,120.1,30.1")["results"]
    assert [r["key"] for r in got] == ["1"]
    assert got[0]["geometry"] == {"type": "Point", "coordinates": [120.05, 30.05]}
    area = Area.objects.create(
        code="AX",
        name="Test area",
        level="district",
        geometry=MultiPolygon(Polygon.from_bbox((120.0, 30.0, 120.2, 30.2))),
    )
    assert [r["key"] for r in _records(auth_client, shops, area="AX")["results"]] == ["1", "2"]
    assert [r["key"] for r in _records(auth_client, shops, area=str(area.id))["results"]] == ["1", "2"]


def test_it_paginates_records_in_a_bounded_number_of_queries(auth_client, shops, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        got = _records(auth_client, shops, page_size=2, page=2)
    assert got["count"] == 4 and [r["key"] for r in got["results"]] == ["3", "4"]


def test_it_answers_a_bad_query_with_an_error_naming_the_parameter(auth_client, shops):
    resp = auth_client.get(f"/api/v1/datahub/datasets/{shops.slug}/records/", {"revenue__gte": "lots"})
    assert resp.status_code == 400
    assert resp.json()["error"] == {"code": "invalid_query", "message": "revenue: 'lots' is not a number."}
    resp = auth_client.get(f"/api/v1/datahub/datasets/{shops.slug}/records/", {"colour": "red"})
    assert resp.json()["error"]["message"] == "colour: no such field in this dataset."
    resp = auth_client.get(f"/api/v1/datahub/datasets/{shops.slug}/records/", {"bbox": "1,2"})
    assert resp.json()["error"]["message"] == "bbox: expected minLon,minLat,maxLon,maxLat."


def test_it_exports_filtered_rows_as_csv(auth_client, shops):
    resp = auth_client.get(f"/api/v1/datahub/datasets/{shops.slug}/export/csv/", {"kind": "cafe"})
    assert resp.status_code == 200 and resp.streaming
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["id", "name", "kind", "opened", "revenue", "lat", "lon", "geometry"]
    assert rows[1] == ["1", "Blue Cafe", "cafe", "2023-01-10", "120.5", "30.05", "120.05", "POINT(120.05 30.05)"]
    assert len(rows) == 3


def test_it_exports_geojson_and_xlsx(auth_client, shops):
    resp = auth_client.get(f"/api/v1/datahub/datasets/{shops.slug}/export/geojson/")
    doc = json.loads(b"".join(resp.streaming_content))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 4
    first = doc["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [120.05, 30.05]}
    assert first["properties"]["name"] == "Blue Cafe"
    assert doc["features"][3]["geometry"] is None

    resp = auth_client.get(f"/api/v1/datahub/datasets/{shops.slug}/export/xlsx/")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content)), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "name", "kind") and rows[2][1] == "Red Books" and len(rows) == 5


def test_it_uploads_previews_confirms_and_reports_versions_and_diffs(
    auth_client, department, django_capture_on_commit_callbacks
):
    ds = make_dataset(owner_department=department)
    url = f"/api/v1/datahub/datasets/{ds.slug}/imports/"
    resp = auth_client.post(url, {"file": SimpleUploadedFile("a.csv", b"id,v\n1,a\n2,b\n")}, format="multipart")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "previewed" and body["schema"][0]["is_primary_key"] is True
    with django_capture_on_commit_callbacks() as callbacks:
        resp = auth_client.post(
            f"/api/v1/datahub/dataset-imports/{body['id']}/confirm/",
            {"mode": "upsert", "on_error": "abort"},
            format="json",
        )
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    assert len(callbacks) == 1  # the Celery task is queued after commit
    from datahub.datasets.services.datasets import dataset_import_execute

    dataset_import_execute(import_id=body["id"])
    run_import(ds, b"id,v\n2,B\n3,c\n", mode="replace")
    versions = auth_client.get(f"/api/v1/datahub/datasets/{ds.slug}/versions/").json()["results"]
    assert [(v["number"], v["rows_added"], v["rows_changed"], v["rows_removed"]) for v in versions] == [
        (2, 1, 1, 1),
        (1, 2, 0, 0),
    ]
    diff = auth_client.get(f"/api/v1/datahub/datasets/{ds.slug}/diff/").json()
    assert [(r["key"], r["change"]) for r in diff["rows"]] == [("1", "removed"), ("2", "changed"), ("3", "added")]
    old = _records(auth_client, ds, version="1")
    assert [r["data"]["v"] for r in old["results"]] == ["a", "b"]


def test_it_refuses_an_upload_with_a_clear_error_and_status(auth_client, department, settings):
    settings.DATAHUB_IMPORT_MAX_BYTES = 10
    ds = make_dataset(owner_department=department)
    resp = auth_client.post(
        f"/api/v1/datahub/datasets/{ds.slug}/imports/",
        {"file": SimpleUploadedFile("a.csv", b"id,v\n1,a\n2,b\n")},
        format="multipart",
    )
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "file_too_large"
    assert not DatasetImport.objects.exists()


def test_it_lets_only_the_owner_department_import(api_client, department):
    ds = make_dataset(owner_department=department, level="public")
    resp = _client(api_client, make_user(department=make_department())).post(
        f"/api/v1/datahub/datasets/{ds.slug}/imports/",
        {"file": SimpleUploadedFile("a.csv", b"id\n1\n")},
        format="multipart",
    )
    assert resp.status_code == 403


def test_it_downloads_the_error_report_of_a_partial_import(auth_client, department):
    ds = make_dataset(owner_department=department)
    imp = run_import(
        ds,
        b"id,n\n1,5\n2,x\n",
        on_error="skip",
        user=None,
        schema=[{"name": "id", "type": "integer", "is_primary_key": True}, {"name": "n", "type": "integer"}],
    )
    DatasetImport.objects.filter(id=imp.id).update(created_by=auth_client.handler._force_user)
    resp = auth_client.get(f"/api/v1/datahub/dataset-imports/{imp.id}/errors/")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content).decode("utf-8-sig").splitlines()[1] == "3,n,x,not an integer"
    assert DatasetRecord.objects.filter(dataset=ds).count() == 1


def test_it_creates_a_dataset_for_the_users_department(auth_client, department):
    resp = auth_client.post(
        "/api/v1/datahub/datasets/",
        {
            "title": "Street lights",
            "owner_department": department.id,
            "level": "internal",
            "tags": ["lighting"],
        },
        format="json",
    )
    assert resp.status_code == 201, resp.content
    ds = Dataset.objects.get(slug=resp.json()["slug"])
    assert ds.source.kind == "government" and ds.tags == ["lighting"]
    resp = auth_client.post(
        "/api/v1/datahub/datasets/", {"title": "Not mine", "owner_department": make_department().id}, format="json"
    )
    assert resp.status_code == 403


def test_it_lists_the_catalogue_in_a_bounded_number_of_queries(auth_client, department, django_assert_max_num_queries):
    for i in range(12):
        ds = make_dataset(owner_department=department, title=f"Set {i:02d}", tags=["t"])
        run_import(ds, b"id,v\n1,a\n")
    with django_assert_max_num_queries(5):
        resp = auth_client.get("/api/v1/datahub/datasets/", {"page_size": 10})
    body = resp.json()
    assert body["count"] == 12 and len(body["results"]) == 10
    assert body["results"][0]["fields"][0] == {
        "name": "id",
        "title": "",
        "type": "integer",
        "format": "",
        "unit": "",
        "required": True,
        "is_primary_key": True,
        "description": "",
    }


def test_it_explains_errors_in_chinese_by_default(auth_client, shops, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    resp = auth_client.get(
        f"/api/v1/datahub/datasets/{shops.slug}/records/", {"revenue__gte": "lots"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert resp.json()["error"]["message"] == "revenue：'lots' 不是数字。"


def test_it_searches_chinese_text_by_substring(auth_client, department):
    ds = make_dataset(owner_department=department)
    run_import(ds, "编号,名称\n1,星巴克咖啡滨江店\n2,瑞幸咖啡\n3,滨江图书馆\n".encode())
    assert [r["key"] for r in _records(auth_client, ds, q="滨江")["results"]] == ["1", "3"]
