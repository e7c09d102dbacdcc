"""The grid worker's patrol page (issue 18, item 2): a report with photos and the phone's position
becomes a case in the worker's grid, with the photos attached; bad input is a 400 naming the
problem, never a 500; only grid workers open the page."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cityos.roles import Role
from governance.models import Case, CaseAttachment
from governance.services.errors import CaseError
from governance.services.grids import grid_assign, grid_patrol_report
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def photo(name="scene.jpg", content_type="image/jpeg"):
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), "#c33").save(buf, "JPEG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type=content_type)


def _form(city, **extra):
    return {
        "title": "井盖缺失",
        "description": "路口",
        "priority": "normal",
        "lon": city.P1[0],
        "lat": city.P1[1],
        **extra,
    }


def test_a_grid_worker_files_a_report_with_photos_from_the_patrol_page(client, city):
    grid_assign(grid_id=city.grid1.id, worker=city.grid_worker)
    client.force_login(city.grid_worker)
    page = client.get("/governance/patrol/").content.decode()
    assert 'accept="image/*"' in page and 'capture="environment"' in page and "multiple" in page
    resp = client.post("/governance/patrol/", _form(city, photos=[photo("a.jpg"), photo("b.jpg")]))
    assert resp.status_code == 302 and resp["Location"] == "/governance/patrol/"
    case = Case.objects.get()
    assert (case.channel, case.grid_id, case.reporter_user_id) == ("grid", city.grid1.id, city.grid_worker.id)
    assert sorted(CaseAttachment.objects.filter(case=case).values_list("name", flat=True)) == ["a.jpg", "b.jpg"]
    page = client.get("/governance/patrol/").content.decode()
    assert case.tracking_number in page.split('id="patrol-my-reports"', 1)[1]
    assert f"geo:{city.P1[1]:.6f},{city.P1[0]:.6f}" in page  # the grid's open case, with a navigation link


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"lon": "", "lat": ""}, "缺少位置"),
        ({"title": ""}, "该字段是必填项"),
        ({"photos": [SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")]}, "只能附加照片"),
    ],
)
def test_a_bad_report_is_refused_with_a_message_and_nothing_is_saved(client, city, extra, message):
    grid_assign(grid_id=city.grid1.id, worker=city.grid_worker)
    client.force_login(city.grid_worker)
    resp = client.post("/governance/patrol/", _form(city, **extra))
    assert resp.status_code == 400 and message in resp.content.decode()
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


def test_a_report_outside_the_workers_grids_says_so(client, city):
    grid_assign(grid_id=city.grid1.id, worker=city.grid_worker)
    client.force_login(city.grid_worker)
    resp = client.post("/governance/patrol/", _form(city, lon=city.P2[0], lat=city.P2[1], photos=[photo()]))
    assert resp.status_code == 400 and "不在你负责的网格内" in resp.content.decode()
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


def test_the_patrol_service_refuses_more_photos_than_a_report_holds(city):
    grid_assign(grid_id=city.grid1.id, worker=city.grid_worker)
    with pytest.raises(CaseError) as err:
        grid_patrol_report(
            worker=city.grid_worker, title="x", lon=city.P1[0], lat=city.P1[1], photos=[photo() for _ in range(7)]
        )
    assert err.value.get_codes() == "too_many_photos"


@pytest.mark.parametrize("role", [Role.DEPARTMENT_OFFICER, Role.ANALYST, Role.CITY_LEADER])
def test_only_grid_workers_open_the_patrol_page(client, role):
    client.force_login(make_user(role=role))
    assert client.get("/governance/patrol/").status_code == 403
