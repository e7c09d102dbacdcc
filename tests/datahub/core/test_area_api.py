import pytest

from tests.datahub.core.factories import make_area

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    c = make_area(code="C1", name="滨江市", level="city", box=(120.0, 30.0, 1.0))
    d1 = make_area(code="C1-01", name="江南区", name_en="Jiangnan District", parent=c, box=(120.0, 30.0, 0.5))
    make_area(code="C1-02", name="滨湖区", parent=c, box=(120.5, 30.0, 0.5))
    make_area(code="C1-01-001", name="长安街道", level="street", parent=d1, box=(120.0, 30.0, 0.25))
    make_area(code="C1-01-002", name="无边界街道", level="street", parent=d1)
    return c


def test_it_lists_the_tree_level_by_level(auth_client, city, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        roots = auth_client.get("/api/v1/datahub/areas/?roots=true").json()["results"]
    assert [(a["code"], a["children"], a["has_geometry"]) for a in roots] == [("C1", 2, True)]
    kids = auth_client.get(f"/api/v1/datahub/areas/?parent={city.id}").json()["results"]
    assert [(a["code"], a["children"]) for a in kids] == [("C1-01", 2), ("C1-02", 0)]
    assert auth_client.get("/api/v1/datahub/areas/?q=长安").json()["results"][0]["code"] == "C1-01-001"


def test_it_serves_boundaries_as_geojson(auth_client, city):
    d1 = city.children.get(code="C1-01")
    fc = auth_client.get(f"/api/v1/datahub/areas/geojson/?parent={d1.id}").json()
    assert fc["type"] == "FeatureCollection"
    # The street without a boundary is left out.
    assert [f["properties"]["code"] for f in fc["features"]] == ["C1-01-001"]
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_geojson_needs_a_filter(auth_client, city):
    response = auth_client.get("/api/v1/datahub/areas/geojson/")
    assert response.status_code == 400
    assert "give parent, ids, level or roots=true" in response.json()["error"]["message"]


def test_it_locates_a_point_from_the_largest_area_to_the_smallest(auth_client, city):
    rows = auth_client.get("/api/v1/datahub/areas/locate/?lon=120.1&lat=30.1").json()
    assert [a["code"] for a in rows] == ["C1", "C1-01", "C1-01-001"]
    assert auth_client.get("/api/v1/datahub/areas/locate/?lon=0&lat=0").json() == []


@pytest.mark.parametrize("query", ["lon=120.1", "lon=abc&lat=30", "lon=181&lat=30", "lon=120&lat=-91"])
def test_locate_refuses_bad_coordinates(auth_client, city, query):
    response = auth_client.get(f"/api/v1/datahub/areas/locate/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_it_matches_places_in_text(auth_client, city):
    rows = auth_client.get("/api/v1/datahub/areas/match/", {"text": "江南区长安街道12号"}).json()
    assert [a["code"] for a in rows] == ["C1-01-001"]
    assert auth_client.get("/api/v1/datahub/areas/match/").status_code == 400


def test_anonymous_users_get_nothing(api_client, city):
    assert api_client.get("/api/v1/datahub/areas/").status_code in (401, 403)


def _upload(body: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("areas.geojson", body, content_type="application/geo+json")


@pytest.fixture
def admin_api(api_client):
    from cityos.roles import Role
    from tests.factories import make_user

    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    return api_client


def test_administrators_import_areas_from_an_uploaded_geojson(admin_api, data_dir):
    body = (data_dir / "nyc_311_sample_and_boundaries" / "nyc_borough_boundaries.geojson").read_bytes()
    form = {
        "file": _upload(body),
        "code_prop": "boro_name",
        "name_prop": "boro_name",
        "level": "district",
        "code_prefix": "nyc-",
    }
    response = admin_api.post("/api/v1/datahub/areas/import/", form, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 5, "updated": 0, "source_srid": 4326}
    assert admin_api.get("/api/v1/datahub/areas/locate/?lon=-73.95&lat=40.65").json()[0]["code"] == "nyc-Brooklyn"


def test_an_uploaded_file_with_a_bad_feature_is_refused_with_its_index_and_property(admin_api):
    from django.utils import translation

    from datahub.models import Area

    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"c": "a", "n": "A"},
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            },
            {
                "type": "Feature",
                "properties": {"c": "b"},
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            },
        ],
    }
    import json

    with translation.override("en"):
        response = admin_api.post(
            "/api/v1/datahub/areas/import/",
            {"file": _upload(json.dumps(fc).encode()), "code_prop": "c", "name_prop": "n", "level": "grid"},
            format="multipart",
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["feature"], error["property"]) == ("invalid_file", 1, "n")
    assert error["message"] == "feature 1, property 'n': is missing or empty"
    assert not Area.objects.filter(code__in=["a", "b"]).exists()


def test_only_administrators_import_areas(auth_client):
    response = auth_client.post(
        "/api/v1/datahub/areas/import/",
        {"file": _upload(b"{}"), "code_prop": "c", "name_prop": "n", "level": "grid"},
        format="multipart",
    )
    assert response.status_code == 403
