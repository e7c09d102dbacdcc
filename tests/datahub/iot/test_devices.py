from datetime import timedelta

import pytest
from django.utils import timezone

from datahub.iot.services import devices as iot_devices
from datahub.models import Datastream, Device, Entity
from tests.datahub.iot.factories import make_area, make_device
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_it_registers_a_device_as_an_entity_in_the_most_detailed_area_containing_it():
    district = make_area(level="district", lon0=120.0, lat0=30.0, size=1.0)
    grid = make_area(level="grid", lon0=120.2, lat0=30.2, size=0.1, parent=district)
    device, _, _ = make_device(lon=120.25, lat=30.25)
    assert device.area_id == grid.id
    assert device.entity.type == Entity.Type.DEVICE
    assert device.entity.identifiers.get().value == device.key


def test_it_shows_a_device_online_only_while_its_last_reading_is_recent():
    device, _, _ = make_device(expected_interval_s=60)
    assert device.status == "offline"
    Device.objects.filter(id=device.id).update(last_seen_at=timezone.now() - timedelta(seconds=100))
    device.refresh_from_db()
    assert device.status == "online"
    assert list(Device.objects.online()) == [device]
    Device.objects.filter(id=device.id).update(last_seen_at=timezone.now() - timedelta(seconds=181))
    device.refresh_from_db()
    assert device.status == "offline"
    assert list(Device.objects.offline()) == [device]


def test_it_checks_the_device_secret_against_its_hash_only():
    device, _, secret = make_device()
    assert secret not in device.credential_hash
    assert iot_devices.device_authenticate(key=device.key, secret=secret) == device
    assert iot_devices.device_authenticate(key=device.key, secret=secret + "x") is None


CSV_OK = """key,name,device_type,model,lon,lat,department,expected_interval_s,datastreams
aq-1,空气站1,air_quality,AQ-9,120.05,30.05,,300,pm25|µg/m³|0|1000;no2|µg/m³|0|2000
wl-1,水位1,water_level,,,,,60,level|m|-5|30
"""


def test_it_registers_devices_and_datastreams_from_csv():
    make_area(level="district", lon0=120.0, lat0=30.0, size=0.1)
    creds = iot_devices.devices_register_csv(text=CSV_OK)
    assert [c.key for c in creds] == ["aq-1", "wl-1"]
    aq = Device.objects.get(key="aq-1")
    assert aq.area is not None and aq.expected_interval_s == 300
    assert sorted(aq.datastreams.values_list("metric", flat=True)) == ["no2", "pm25"]
    assert Datastream.objects.get(device__key="wl-1").valid_min == -5


def test_it_rejects_a_bad_csv_naming_row_and_column_and_writes_nothing():
    bad = CSV_OK + "bad-1,坏,air_quality,,abc,30,,60,\n"
    with pytest.raises(iot_devices.RegistrationError) as exc:
        iot_devices.devices_register_csv(text=bad)
    assert exc.value.row == 3 and exc.value.column == "lon"
    assert "row 3" in str(exc.value)
    assert not Device.objects.exists()


def test_it_registers_a_device_through_the_api_and_returns_its_secret_once(api_client):
    api_client.force_authenticate(make_user(role="administrator"))
    resp = api_client.post(
        "/api/v1/datahub/devices/",
        {"key": "noise-7", "name": "噪声7", "device_type": "noise", "datastreams": [{"metric": "laeq", "unit": "dB"}]},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    assert len(resp.json()["secret"]) > 30
    detail = api_client.get(f"/api/v1/datahub/devices/{resp.json()['id']}/").json()
    assert "secret" not in detail and "credential_hash" not in detail
    assert detail["status"] == "offline"


def test_it_refuses_device_registration_to_an_analyst(api_client):
    api_client.force_authenticate(make_user(role="analyst"))
    resp = api_client.post("/api/v1/datahub/devices/", {"key": "x", "name": "x", "device_type": "noise"}, format="json")
    assert resp.status_code == 403


def test_it_bulk_registers_from_csv_over_the_api_and_reports_the_bad_row(api_client):
    api_client.force_authenticate(make_user(role="administrator"))
    bad = CSV_OK.replace("wl-1,水位1,water_level", "wl-1,水位1,submarine")
    resp = api_client.post("/api/v1/datahub/devices/register-csv/", bad.encode(), content_type="text/csv")
    assert resp.status_code == 400
    assert resp.json()["error"]["row"] == 2 and resp.json()["error"]["column"] == "device_type"
    resp = api_client.post("/api/v1/datahub/devices/register-csv/", CSV_OK.encode(), content_type="text/csv")
    assert resp.status_code == 201 and resp.json()["created"] == 2


def test_it_lists_devices_with_a_bounded_number_of_queries(auth_client, django_assert_max_num_queries):
    for _ in range(5):
        make_device()
    with django_assert_max_num_queries(4):
        resp = auth_client.get("/api/v1/datahub/devices/?status=offline")
    assert resp.json()["count"] == 5
