"""The CKAN-compatible API, judged with the real `ckanapi` client against a live server."""

import csv
import io

import ckanapi
import pytest
import requests

from datahub.ckan.selectors import package_id, resource_id
from datahub.models import Dataset
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.factories import make_department

pytestmark = pytest.mark.django_db(transaction=True)

PARKS = (
    "id,name,district,area_ha,opened\n"
    "1,滨江公园,江南区,12.5,2001-05-01\n"
    "2,湿地公园,江北区,80,2010-10-01\n"
    "3,Riverside Park,江南区,3.25,2015-06-30\n"
).encode()


@pytest.fixture
def catalogue(db):
    parks_dept = make_department(code="parks-bureau", name="园林局")
    parks = make_dataset(title="公园名录", owner_department=parks_dept, tags=["parks", "公园"], licence="CC-BY-4.0")
    assert run_import(parks, PARKS).status == "succeeded"
    secret = make_dataset(title="内部台账", level=Dataset.Level.INTERNAL, tags=["parks"])
    return {"parks": Dataset.objects.get(pk=parks.pk), "secret": secret, "dept": parks_dept}


@pytest.fixture
def ckan(live_server):
    return ckanapi.RemoteCKAN(f"{live_server.url}/ckan")


def test_it_lists_and_shows_only_public_packages(catalogue, ckan):
    assert ckan.action.package_list() == [catalogue["parks"].slug]
    pkg = ckan.action.package_show(id=catalogue["parks"].slug)
    assert pkg["id"] == package_id(catalogue["parks"].id)
    assert (pkg["title"], pkg["organization"]["name"], pkg["license_id"]) == ("公园名录", "parks-bureau", "CC-BY-4.0")
    assert sorted(t["name"] for t in pkg["tags"]) == ["parks", "公园"]
    assert pkg["resources"][0]["id"] == resource_id(catalogue["parks"].id)
    assert ckan.action.package_show(id=pkg["id"])["name"] == catalogue["parks"].slug  # by id too
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id=catalogue["secret"].slug)
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no-such-dataset")


def test_it_searches_packages_with_q_fq_rows_start_and_sort(catalogue, ckan):
    other = make_dataset(title="Air quality stations", tags=["air"], owner_department=catalogue["dept"])
    found = ckan.action.package_search(q="公园")
    assert found["count"] == 1 and found["results"][0]["name"] == catalogue["parks"].slug
    assert ckan.action.package_search(fq="tags:air")["results"][0]["name"] == other.slug
    assert ckan.action.package_search(fq="organization:parks-bureau")["count"] == 2
    assert ckan.action.package_search(fq="-tags:air")["count"] == 1
    by_title = ckan.action.package_search(sort="title_string asc", rows=1)
    assert by_title["count"] == 2 and [r["title"] for r in by_title["results"]] == ["Air quality stations"]
    second = ckan.action.package_search(sort="title_string asc", rows=1, start=1)
    assert [r["title"] for r in second["results"]] == ["公园名录"]
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(sort="nonsense desc")
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_search(rows=5000)


def test_it_lists_organizations_and_tags_of_public_datasets_only(catalogue, ckan):
    assert ckan.action.organization_list() == ["parks-bureau"]
    assert ckan.action.organization_list(all_fields=True)[0]["title"] == "园林局"
    assert ckan.action.tag_list() == ["parks", "公园"]
    assert ckan.action.tag_list(query="par") == ["parks"]


def test_it_serves_the_datastore_with_filters_q_sort_limit_and_offset(catalogue, ckan):
    rid = resource_id(catalogue["parks"].id)
    assert ckan.action.resource_show(id=rid)["datastore_active"] is True
    everything = ckan.action.datastore_search(resource_id=rid)
    assert everything["total"] == 3
    assert [f["id"] for f in everything["fields"]] == ["_id", "id", "name", "district", "area_ha", "opened"]
    assert {f["id"]: f["type"] for f in everything["fields"]}["area_ha"] == "numeric"
    south = ckan.action.datastore_search(resource_id=rid, filters={"district": "江南区"}, sort="area_ha desc")
    assert [r["name"] for r in south["records"]] == ["滨江公园", "Riverside Park"] and south["total"] == 2
    page = ckan.action.datastore_search(resource_id=rid, sort="area_ha asc", limit=1, offset=1)
    assert [r["name"] for r in page["records"]] == ["滨江公园"] and page["total"] == 3
    assert [r["name"] for r in ckan.action.datastore_search(resource_id=rid, q="湿地")["records"]] == ["湿地公园"]
    assert ckan.action.datastore_search(resource_id=rid, q={"name": "river"})["total"] == 1
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.datastore_search(resource_id=rid, filters={"no_such_field": 1})
    with pytest.raises(ckanapi.NotFound):
        ckan.action.datastore_search(resource_id="00000000-0000-0000-0000-000000000000")


def test_it_answers_bad_requests_with_ckan_errors_not_server_errors(catalogue, live_server):
    url = f"{live_server.url}/ckan/api/3/action"
    r = requests.get(f"{url}/no_such_action", timeout=10)
    assert r.status_code == 404 and r.json()["success"] is False
    for params in ({"rows": "x"}, {"rows": "-1"}, {"start": "-5"}, {"fq": "((("}, {"sort": "name up"}):
        r = requests.get(f"{url}/package_search", params=params, timeout=10)
        assert r.status_code in (400, 409), (params, r.status_code)
        assert r.json()["success"] is False and r.json()["error"]["message"]
    r = requests.post(
        f"{url}/package_show", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert r.status_code == 400
    r = requests.get(f"{url}/datastore_search", params={"resource_id": "x", "filters": "{bad"}, timeout=10)
    assert r.status_code in (404, 409)


def test_the_resource_url_downloads_the_rows_as_csv(catalogue, ckan):
    pkg = ckan.action.package_show(id=catalogue["parks"].slug)
    r = requests.get(pkg["resources"][0]["url"], timeout=10)
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert sorted(row["name"] for row in rows) == sorted(["Riverside Park", "滨江公园", "湿地公园"])
    assert (
        requests.get(
            pkg["resources"][0]["url"].replace(catalogue["parks"].slug, catalogue["secret"].slug), timeout=10
        ).status_code
        == 404
    )


def test_a_real_city_file_imported_through_the_datahub_is_harvestable(db, live_server, data_dir):
    """Little Rock's public Wi-Fi list, imported by the product's importer, read back by ckanapi."""
    content = (data_dir / "little_rock_city_open_data" / "PublicWifi.csv").read_bytes()
    ds = make_dataset(title="Little Rock public Wi-Fi", tags=["wifi"])
    imp = run_import(ds, content, name="PublicWifi.csv")
    assert imp.status == "succeeded", imp.message
    ckan = ckanapi.RemoteCKAN(f"{live_server.url}/ckan")
    lines = content.decode("utf-8-sig").strip().splitlines()
    got = ckan.action.datastore_search(resource_id=resource_id(ds.id), limit=1000)
    assert got["total"] == len(lines) - 1
    assert any(r["Facility"] == "West Central Community Center" for r in got["records"])
    assert ckan.action.package_search(fq="tags:wifi")["results"][0]["num_resources"] == 1


def test_it_throttles_each_client_address(client, settings):
    from django.core.cache import cache

    settings.CKAN_RATE = "3/min"
    cache.delete_many([k for k in ("throttle_ckan_127.0.0.7",)])
    statuses = [client.get("/ckan/api/3/action/status_show", REMOTE_ADDR="127.0.0.7").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = client.get("/ckan/api/3/action/status_show", REMOTE_ADDR="127.0.0.7")
    assert int(r["Retry-After"]) >= 1 and r.json()["success"] is False
    assert client.get("/ckan/api/3/action/status_show", REMOTE_ADDR="127.0.0.6").status_code == 200
