"""Real public files through the product's importers (shared data, never copied into the project)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datahub.datasets.services import datasets as svc
from datahub.models import DatasetImport, DatasetRecord
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.demo_snapshot import demo_city

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]


def test_it_imports_the_little_rock_business_licences_with_two_digit_year_dates(data_dir):
    path = data_dir / "little_rock_city_open_data" / "Business_Licenses.csv"
    ds = make_dataset(title="Little Rock business licences")
    imp = run_import(ds, path.read_bytes(), path.name, on_error="skip")
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert (imp.rows_read, imp.rows_valid) == (14_573, 14_573)
    start = next(f for f in imp.schema if f["name"] == "ACCOUNT START DATE")
    assert (start["type"], start["format"]) == ("date", "%m/%d/%y")
    rec = DatasetRecord.objects.get(dataset=ds, row_number=2)
    assert rec.data["Business"] == "STELLAR CLEANING LLC"
    assert rec.data["ACCOUNT START DATE"] == "2021-02-22"  # "2/22/21"
    ds.refresh_from_db()
    assert ds.row_count == 14_573
    # Two-digit years span two centuries here ("87" to "21"): none may land in the future.
    years = {
        int(d["ACCOUNT START DATE"][:4])
        for d in DatasetRecord.objects.filter(dataset=ds).values_list("data", flat=True)
    }
    assert (min(years), max(years)) == (1987, 2021)


def test_it_imports_the_montreal_bike_counters_in_latin1_with_empty_columns(data_dir):
    path = data_dir / "montreal_bike_counters_weather_2012" / "bikes.csv"
    ds = make_dataset(title="Montreal bike counters 2012")
    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile(path.name, path.read_bytes()))
    assert (imp.encoding, imp.delimiter) == ("latin-1", ";")
    by_name = {f["name"]: f for f in imp.schema}
    assert by_name["Date"] == {
        "name": "Date",
        "type": "date",
        "format": "%d/%m/%Y",
        "unit": "",
        "required": True,
        "is_primary_key": True,
    }
    assert by_name["Berri 1"]["type"] == "integer"
    empty = "Brébeuf (données non disponibles)"
    assert by_name[empty]["required"] is False
    assert f"column {empty!r} is empty" in imp.preview["notes"]
    svc.dataset_import_confirm(imp=imp)
    svc.dataset_import_execute(import_id=imp.id)
    imp.refresh_from_db()
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert imp.rows_valid == 310
    rec = DatasetRecord.objects.get(dataset=ds, key="2012-01-02")
    assert rec.data["Berri 1"] == 83 and rec.data[empty] is None


def test_it_imports_the_nyc_borough_geojson_with_multipolygons(data_dir):
    path = data_dir / "nyc_311_sample_and_boundaries" / "nyc_borough_boundaries.geojson"
    ds = make_dataset(title="NYC boroughs")
    imp = run_import(ds, path.read_bytes(), path.name)
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert imp.format == "geojson"
    recs = {r.data["boro_name"]: r for r in DatasetRecord.objects.filter(dataset=ds)}
    assert set(recs) == {"Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"}
    assert recs["Manhattan"].geom.geom_type == "MultiPolygon"
    assert recs["Manhattan"].geom.contains(recs["Manhattan"].geom.point_on_surface)


def test_it_imports_chinese_cafe_points_from_geojson(data_dir):
    path = data_dir / "cn_cafe_poi_geojson" / "beijing.geojson"
    ds = make_dataset(title="北京咖啡馆")
    imp = run_import(ds, path.read_bytes(), path.name, on_error="skip")
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    rec = DatasetRecord.objects.get(dataset=ds, data__名称="奇遇花园")
    assert (rec.geom.x, rec.geom.y) == (116.342, 39.941)


def test_it_imports_little_rock_libraries_with_their_wkt_and_coordinate_columns(data_dir):
    path = data_dir / "little_rock_city_open_data" / "CALS.csv"
    ds = make_dataset(title="Little Rock libraries")
    imp = run_import(ds, path.read_bytes(), path.name)
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert imp.location["lat"] == "Latitude" and imp.location["lon"] == "Longitude"
    assert next(f for f in imp.schema if f["name"] == "New Georeferenced Column")["type"] == "geometry"
    rec = DatasetRecord.objects.get(dataset=ds, data__Branch="Thompson Library")
    assert (rec.geom.x, rec.geom.y) == (-92.45456, 34.768822)


def test_it_builds_the_demo_datasets_once_and_locates_their_rows(settings, media_tmp):

    from datahub.models import Dataset

    demo_city()
    demo_city()
    toilets = Dataset.objects.get(slug="public-toilets")
    assert (toilets.current_version, toilets.row_count) == (1, 120)
    # Every toilet lies inside the city, so each is located to its grid cell.
    assert not DatasetRecord.objects.filter(dataset=toilets, area__isnull=True).exists()
    assert set(DatasetRecord.objects.filter(dataset=toilets).values_list("area__level", flat=True)) == {"grid"}
    firms = Dataset.objects.get(slug="enterprise-registry-sample")
    assert firms.location["address"] == "注册地址"
    assert not DatasetRecord.objects.filter(dataset=firms, area__isnull=True).exists()
