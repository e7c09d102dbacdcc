"""Devices and datastreams follow department scoping (cityos.scoping): officers see their
department's subtree (and unowned devices), city-wide roles see all; writes stay within what
an officer's department owns."""

import pytest

from datahub.models import Device
from tests.datahub.iot.factories import make_device
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    bureau = make_department(code="env-bureau")
    office = make_department(code="env-office", parent=bureau, kind="office")
    other = make_department(code="water-bureau")
    devices = {
        "bureau": make_device(key="d-bureau", owner_department_id=bureau.id),
        "office": make_device(key="d-office", owner_department_id=office.id),
        "other": make_device(key="d-other", owner_department_id=other.id),
        "shared": make_device(key="d-shared"),
    }
    return {"bureau": bureau, "office": office, "other": other, "devices": devices}


def keys(resp) -> list[str]:
    assert resp.status_code == 200, resp.content
    return sorted(d["key"] for d in resp.json()["results"])


def test_an_officer_sees_the_devices_of_their_department_subtree_and_unowned_ones(api_client, org):
    api_client.force_authenticate(make_user(department=org["bureau"]))
    assert keys(api_client.get("/api/v1/datahub/devices/")) == ["d-bureau", "d-office", "d-shared"]
    api_client.force_authenticate(make_user(department=org["office"]))
    assert keys(api_client.get("/api/v1/datahub/devices/")) == ["d-office", "d-shared"]
    other = org["devices"]["other"][0]
    assert api_client.get(f"/api/v1/datahub/devices/{other.id}/").status_code == 404


@pytest.mark.parametrize("role", ["city_leader", "analyst", "administrator"])
def test_city_wide_roles_see_every_device(api_client, org, role):
    api_client.force_authenticate(make_user(role=role))
    assert keys(api_client.get("/api/v1/datahub/devices/")) == ["d-bureau", "d-office", "d-other", "d-shared"]


def test_datastreams_their_series_and_latest_values_follow_the_device(api_client, org):
    api_client.force_authenticate(make_user(department=org["office"]))
    streams = api_client.get("/api/v1/datahub/datastreams/").json()["results"]
    assert sorted(s["device_key"] for s in streams) == ["d-office", "d-shared"]
    hidden = org["devices"]["other"][1]["pm25"]
    assert api_client.get(f"/api/v1/datahub/datastreams/{hidden.id}/series/").status_code == 404
    assert api_client.get(f"/api/v1/datahub/datastreams/{hidden.id}/export/").status_code == 404
    from datahub.iot.services import ingest as iot_ingest

    mine = org["devices"]["office"][1]["pm25"]
    iot_ingest.observations_ingest(records=[{"datastream": d.id, "time": 1.7e9, "value": 5} for d in (mine, hidden)])
    latest = api_client.get(f"/api/v1/datahub/datastreams/latest/?ids={mine.id},{hidden.id}").json()["latest"]
    assert list(latest) == [str(mine.id)]


def test_the_pages_follow_the_same_scope(client, org):
    from django.contrib.gis.geos import Point

    Device.objects.update(point=Point(120.1, 30.1, srid=4326))
    client.force_login(make_user(department=org["office"]))
    html = client.get("/datahub/iot/map/").content.decode()
    assert "d-office" in html and "d-shared" in html and "d-other" not in html and "d-bureau" not in html
    html = client.get("/datahub/iot/datastreams/").content.decode()
    assert "d-office" in html and "d-other" not in html
    assert client.get(f"/datahub/iot/devices/{org['devices']['other'][0].id}/").status_code == 404
    assert client.get(f"/datahub/iot/devices/{org['devices']['office'][0].id}/").status_code == 200


def test_an_officer_registers_devices_only_for_their_department_subtree(api_client, org):
    api_client.force_authenticate(make_user(department=org["bureau"]))
    new = {"name": "n", "device_type": "noise"}
    resp = api_client.post("/api/v1/datahub/devices/", new | {"key": "n-1"}, format="json")
    assert resp.status_code == 201
    assert Device.objects.get(key="n-1").owner_department_id == org["bureau"].id  # defaults to their own
    resp = api_client.post(
        "/api/v1/datahub/devices/", new | {"key": "n-2", "owner_department_id": org["office"].id}, format="json"
    )
    assert resp.status_code == 201
    resp = api_client.post(
        "/api/v1/datahub/devices/", new | {"key": "n-3", "owner_department_id": org["other"].id}, format="json"
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "permission_denied"
    assert not Device.objects.filter(key="n-3").exists()


def test_an_administrator_registers_for_any_department_or_none(api_client, org):
    api_client.force_authenticate(make_user(role="administrator"))
    new = {"name": "n", "device_type": "noise"}
    assert api_client.post("/api/v1/datahub/devices/", new | {"key": "a-1"}, format="json").status_code == 201
    resp = api_client.post(
        "/api/v1/datahub/devices/", new | {"key": "a-2", "owner_department_id": org["other"].id}, format="json"
    )
    assert resp.status_code == 201 and Device.objects.get(key="a-1").owner_department_id is None


def test_an_officer_edits_only_devices_their_department_owns(api_client, org):
    api_client.force_authenticate(make_user(department=org["bureau"]))
    office_dev = org["devices"]["office"][0]
    resp = api_client.patch(f"/api/v1/datahub/devices/{office_dev.id}/", {"model": "X-2"}, format="json")
    assert resp.status_code == 200 and Device.objects.get(id=office_dev.id).model == "X-2"
    shared = org["devices"]["shared"][0]
    assert api_client.patch(f"/api/v1/datahub/devices/{shared.id}/", {"model": "Y"}, format="json").status_code == 403
    other = org["devices"]["other"][0]
    assert api_client.patch(f"/api/v1/datahub/devices/{other.id}/", {"model": "Y"}, format="json").status_code == 404
    resp = api_client.patch(
        f"/api/v1/datahub/devices/{office_dev.id}/", {"owner_department": org["other"].id}, format="json"
    )
    assert resp.status_code == 403 and Device.objects.get(id=office_dev.id).owner_department_id == org["office"].id
    assert api_client.post(f"/api/v1/datahub/devices/{shared.id}/rotate-credential/").status_code == 403
    assert api_client.post(f"/api/v1/datahub/devices/{office_dev.id}/rotate-credential/").status_code == 200
    resp = api_client.post("/api/v1/datahub/datastreams/", {"device_id": shared.id, "metric": "t"}, format="json")
    assert resp.status_code == 403
    resp = api_client.post("/api/v1/datahub/datastreams/", {"device_id": office_dev.id, "metric": "t"}, format="json")
    assert resp.status_code == 201
    # The schema documents the answer the endpoint gives (the datastream), not the request body.
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    created = schema["paths"]["/api/v1/datahub/datastreams/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["required"]) <= set(resp.json())
    assert resp.json()["device"] == office_dev.id and resp.json()["metric"] == "t"


def test_a_child_office_cannot_touch_its_parent_bureaus_devices(api_client, org):
    api_client.force_authenticate(make_user(department=org["office"]))
    bureau_dev = org["devices"]["bureau"][0]
    assert (
        api_client.patch(f"/api/v1/datahub/devices/{bureau_dev.id}/", {"model": "Z"}, format="json").status_code == 404
    )


def test_bulk_registration_keeps_an_officer_to_their_scope(api_client, org):
    api_client.force_authenticate(make_user(department=org["bureau"]))
    csv_text = "key,name,device_type,department\nc-1,c1,noise,\nc-2,c2,noise,env-office\nc-3,c3,noise,water-bureau\n"
    resp = api_client.post("/api/v1/datahub/devices/register-csv/", csv_text.encode(), content_type="text/csv")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert (err["row"], err["column"]) == (3, "department") and "outside your scope" in err["message"]
    assert not Device.objects.filter(key__startswith="c-").exists()
    resp = api_client.post(
        "/api/v1/datahub/devices/register-csv/", csv_text.rsplit("c-3", 1)[0].encode(), content_type="text/csv"
    )
    assert resp.status_code == 201
    owners = dict(Device.objects.filter(key__startswith="c-").values_list("key", "owner_department__code"))
    assert owners == {"c-1": "env-bureau", "c-2": "env-office"}


def test_individual_ingest_batches_are_for_city_wide_roles(api_client, org):
    api_client.force_authenticate(make_user(department=org["bureau"]))
    assert api_client.get("/api/v1/datahub/ingest-batches/").status_code == 403
    assert api_client.get("/api/v1/datahub/ingest-batches/summary/").status_code == 200
    api_client.force_authenticate(make_user(role="city_leader"))
    assert api_client.get("/api/v1/datahub/ingest-batches/").status_code == 200


def test_the_ingest_monitor_page_shows_error_samples_to_city_wide_roles_only(client, org):
    client.force_login(make_user(department=org["bureau"]))
    assert 'id="errors-city-wide-only"' in client.get("/datahub/iot/monitor/").content.decode()
    client.force_login(make_user(role="analyst"))
    assert 'id="errors-city-wide-only"' not in client.get("/datahub/iot/monitor/").content.decode()
