import math
import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityos.roles import Role
from datahub.models import Entity, EntityIdentifier, Run
from livelihood.models import Facility
from livelihood.selectors import facilities_nearest, facilities_open_ids, facility_clusters, facility_open_now
from livelihood.services.errors import LivelihoodError
from livelihood.services.facilities import facility_exception_set, facility_import, validate_hours
from tests.factories import make_user
from tests.livelihood.factories import make_facilities

pytestmark = pytest.mark.django_db
LR = "little_rock_city_open_data"
TZ = ZoneInfo("Asia/Shanghai")


def _import(data_dir, name, type_, source):
    path = data_dir / LR / name
    return facility_import(data=path.read_bytes(), filename=path.name, type=type_, source_code=source)


def test_it_imports_the_little_rock_facility_files_through_the_datahub(data_dir):
    schools = _import(data_dir, "LRSchools.csv", "school", "lr-schools")
    libraries = _import(data_dir, "CALS.csv", "library", "lr-libraries")
    police = _import(data_dir, "Police_Facilities.csv", "police", "lr-police")
    wifi = _import(data_dir, "PublicWifi.csv", "wifi", "lr-wifi")
    historic = _import(data_dir, "Historic.csv", "historic_site", "lr-historic")

    assert (schools.read, schools.stored, schools.rejected) == (73, 71, 2)
    # The two geocoder rows with "NA" coordinates are reported by row (header = row 1) and column.
    assert {(e["column"], e["message"]) for e in schools.errors} == {("lon", "no coordinates (NA or empty)")}
    assert all(e["row"] >= 2 for e in schools.errors)
    assert (libraries.stored, police.stored, wifi.stored, historic.stored) == (9, 10, 18, 227)
    assert Facility.objects.count() == 71 + 9 + 10 + 18 + 227
    # Each facility is a datahub entity of type facility with its identifier, and the run is recorded.
    fac = Facility.objects.get(key__startswith="lr-police:", name="Northwest Patrol Division")
    assert fac.entity.type == Entity.Type.FACILITY and fac.entity.name == fac.name
    assert EntityIdentifier.objects.get(entity=fac.entity).value == fac.key
    assert fac.address == "10001 KANIS RD"
    assert (round(fac.point.x, 5), round(fac.point.y, 5)) == (-92.38618, 34.74219)
    assert Run.objects.get(id=schools.run_id).status == "partial"
    assert Run.objects.get(id=police.run_id).status == "succeeded"
    school = Facility.objects.get(key__startswith="lr-schools:", name="ARK. SCHOOL FOR THE BLIND ELEM")
    assert school.address == "2600 W. Markham"  # trailing spaces trimmed; the geocoder's `address` is not used


def test_it_reads_wkt_points_when_the_coordinate_columns_are_na(tmp_path):
    csv = (
        b"Facility,Address,New Georeferenced Column,Longitude,Latitude\n"
        b"Hall A,1 Main St,POINT (-92.29 34.73),NA,NA\n"
        b"Hall B,2 Main St,NA,NA,NA\n"
        b"Hall C,3 Main St,POINT (oops),NA,NA\n"
        b",4 Main St,POINT (-92.2 34.7),-92.2,34.7\n"
    )
    result = facility_import(data=csv, filename="halls.csv", type="service_hall", source_code="halls")
    assert result.stored == 1
    assert Facility.objects.get().point.x == pytest.approx(-92.29)
    by_row = {e["row"]: e for e in result.errors}
    assert by_row[3]["message"] == "no coordinates (NA or empty)"
    assert by_row[4]["column"] == "New Georeferenced Column" and "unreadable point" in by_row[4]["message"]
    assert by_row[5]["column"] == "Facility" and by_row[5]["message"] == "name is empty"


def test_it_imports_every_cafe_geojson_and_reimports_without_duplicates(data_dir):
    files = sorted((data_dir / "cn_cafe_poi_geojson").glob("*.geojson"))
    total = 0
    for path in files:
        r = facility_import(data=path.read_bytes(), filename=path.name, type="cafe", source_code=f"cafe-{path.stem}")
        assert r.rejected == 0, r.errors
        total += r.stored
    assert total == 339 == Facility.objects.filter(type="cafe").count()
    cafe = Facility.objects.get(name="奇遇花园")
    assert cafe.attributes["下载速度"] == "22 Mbps"
    again = facility_import(
        data=files[0].read_bytes(), filename=files[0].name, type="cafe", source_code=f"cafe-{files[0].stem}"
    )
    assert again.created == 0 and Facility.objects.count() == 339
    assert Entity.objects.filter(type="facility").count() == 339


def test_it_refuses_a_file_it_cannot_read():
    with pytest.raises(LivelihoodError, match="GeoJSON"):
        facility_import(data=b"{not json", filename="x.geojson", type="cafe", source_code="bad")
    with pytest.raises(LivelihoodError, match="no coordinate columns"):
        facility_import(data=b"name,foo\na,b\n", filename="x.csv", type="cafe", source_code="bad")
    with pytest.raises(LivelihoodError, match="type"):
        facility_import(data=b"name,lon,lat\n", filename="x.csv", type="spaceport", source_code="bad")


def _haversine(lon1, lat1, lon2, lat2):
    r = 6371008.8  # PostGIS's sphere (mean radius) for use_spheroid=false
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def test_nearest_matches_a_brute_force_distance_computation():
    rng = random.Random(7)
    libraries = make_facilities([(120 + rng.random() * 0.2, 30 + rng.random() * 0.2) for _ in range(300)])
    make_facilities([(120 + rng.random() * 0.2, 30 + rng.random() * 0.2) for _ in range(100)], type="school")
    for _ in range(5):
        lon, lat = 120 + rng.random() * 0.2, 30 + rng.random() * 0.2
        got = facilities_nearest(lon=lon, lat=lat, type="library", limit=10)
        brute = sorted((_haversine(lon, lat, f.point.x, f.point.y), f.id) for f in libraries)[:10]
        assert [r["id"] for r in got] == [fid for _d, fid in brute]
        for row, (dist, _fid) in zip(got, brute, strict=True):
            assert row["distance_m"] == pytest.approx(dist, abs=0.5)
            assert row["type"] == "library"
        assert [r["distance_m"] for r in got] == sorted(r["distance_m"] for r in got)


def test_nearest_within_a_radius_and_in_an_area(city):
    near = make_facilities([(120.02, 30.02), (120.021, 30.02)])  # inside grid 1
    far = make_facilities([(120.02, 30.08)])  # grid 2
    got = facilities_nearest(lon=120.02, lat=30.02, limit=10, radius_m=500)
    assert {r["id"] for r in got} == {f.id for f in near}
    assert near[0].area_id == city.grid1.id and far[0].area_id == city.grid2.id
    in_grid2 = facilities_nearest(lon=120.02, lat=30.02, limit=10, area_id=city.grid2.id)
    assert [r["id"] for r in in_grid2] == [far[0].id]
    in_street = facilities_nearest(lon=120.02, lat=30.02, limit=10, area_id=city.street.id)
    assert len(in_street) == 3


def test_open_now_follows_the_weekly_hours_and_their_exceptions():
    a, b = make_facilities([(120.0, 30.0), (120.001, 30.0)])
    c = make_facilities([(120.002, 30.0)], always_open=True)[0]
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
    monday_20 = datetime(2026, 11, 30, 20, 0, tzinfo=TZ)
    sunday_10 = datetime(2026, 12, 6, 10, 0, tzinfo=TZ)

    def open_ids(at):
        return {r["id"] for r in facilities_nearest(lon=120, lat=30, limit=10, open_now=True, at=at)}

    assert open_ids(monday_10) == {a.id, b.id, c.id}
    assert open_ids(monday_20) == {c.id}
    assert open_ids(sunday_10) == {c.id}
    # A holiday closes `a` on Monday; `b` opens on Sunday morning; `c` (24 h) closes for works.
    facility_exception_set(facility_id=a.id, day=monday_10.date(), closed=True, note="holiday")
    facility_exception_set(facility_id=b.id, day=sunday_10.date(), closed=False, opens=time(9), closes=time(12))
    facility_exception_set(facility_id=c.id, day=sunday_10.date(), closed=True)
    assert open_ids(monday_10) == {b.id, c.id}
    assert open_ids(sunday_10) == {b.id}
    assert open_ids(sunday_10 + timedelta(hours=3)) == set()
    # The Python check on a detail page agrees with the SQL.
    for at in (monday_10, monday_20, sunday_10):
        assert {f.id for f in (a, b, c) if facility_open_now(f, at)} == open_ids(at)
        assert facilities_open_ids([a.id, b.id, c.id], at) == open_ids(at)


def test_hours_are_validated():
    assert validate_hours({"mon": [["8:00", "12:00"]]}) == {"mon": [["08:00", "12:00"]]}
    for bad in ({"moon": []}, {"mon": [["12:00", "08:00"]]}, {"mon": [["x", "y"]]}, ["mon"]):
        with pytest.raises(LivelihoodError):
            validate_hours(bad)


def test_clusters_group_points_by_screen_cell():
    make_facilities([(120.0 + i * 0.0001, 30.0) for i in range(20)] + [(121.0, 31.0)])
    cells = facility_clusters(bbox=(119, 29, 122, 32), zoom=8)
    assert sorted(c["count"] for c in cells) == [1, 20]
    single = next(c for c in cells if c["count"] == 1)
    assert single["name"] and single["type"] == "library"
    fine = facility_clusters(bbox=(119.99, 29.99, 120.01, 30.01), zoom=22)
    assert len(fine) == 20


def test_the_nearest_endpoint_is_public_and_validated(api_client):
    make_facilities([(120.0, 30.0), (120.01, 30.0)])
    r = api_client.get(
        "/api/v1/livelihood/facilities/nearest/", {"lon": 120.0, "lat": 30.0, "type": "library", "limit": 1}
    )
    assert r.status_code == 200, r.content
    [row] = r.json()
    assert row["distance_m"] == 0 and (row["lon"], row["lat"]) == (120.0, 30.0)
    for bad, field in (({"lon": 200, "lat": 30}, "lon"), ({"lon": 120}, "lat"), ({"lon": 1, "lat": 1, "limit": 0}, "limit"),
                       ({"lon": 1, "lat": 1, "type": "spaceport"}, "type")):  # fmt: skip
        r = api_client.get("/api/v1/livelihood/facilities/nearest/", bad)
        assert r.status_code == 400 and field in r.json()["error"]["fields"], (bad, r.content)


def test_staff_import_a_file_over_the_api_and_citizens_may_not(auth_client, data_dir):
    path = data_dir / LR / "CALS.csv"
    with path.open("rb") as fh:
        r = auth_client.post("/api/v1/livelihood/facilities/import/", {"file": fh, "type": "library", "source": "cals"})
    assert r.status_code == 200, r.content
    assert r.json()["stored"] == 9
    auth_client.force_authenticate(make_user(role=Role.CITIZEN))
    with path.open("rb") as fh:
        r = auth_client.post("/api/v1/livelihood/facilities/import/", {"file": fh, "type": "library", "source": "cals"})
    assert r.status_code == 403
    auth_client.force_authenticate(None)
    with path.open("rb") as fh:
        r = auth_client.post("/api/v1/livelihood/facilities/import/", {"file": fh, "type": "library", "source": "cals"})
    assert r.status_code in (401, 403)


def test_nearest_results_carry_the_type_label_in_the_request_language(api_client):
    make_facilities([(120.0, 30.0)], type="wifi")
    url = "/api/v1/livelihood/facilities/nearest/"
    for lang, label in (("zh-hans", "公共 Wi-Fi"), ("en", "Public Wi-Fi")):
        [row] = api_client.get(url, {"lon": 120.0, "lat": 30.0, "limit": 1}, HTTP_ACCEPT_LANGUAGE=lang).json()
        assert (row["type"], row["type_label"]) == ("wifi", label), lang


def test_the_portal_script_shows_the_type_label_not_the_code():
    """The nearby list is drawn by portal.js from the API rows: it prints `type_label`, never `type`."""
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "livelihood/static/portal/portal.js").read_text()
    assert "esc(f.type_label)" in js and "f.type)" not in js and "f.type " not in js
