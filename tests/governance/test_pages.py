import pytest

from cityos.roles import Role
from governance.services.cases import case_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatcher_client(client, city):
    client.force_login(city.dispatcher)
    return client


def test_the_hotline_form_receives_a_case_and_shows_its_number(dispatcher_client, city):
    resp = dispatcher_client.post(
        "/governance/intake/",
        {"title": "长安街道夜间施工噪音", "priority": "normal", "address": "长安街道", "reporter_phone": "13800001111"},
        follow=True,
    )
    assert resp.status_code == 200
    case = resp.context["case"]
    assert case.channel == "hotline" and case.category_id == city.noise.id and case.street_id == city.street.id
    assert case.tracking_number in resp.content.decode()


def test_the_inbox_lists_what_the_user_may_see(client, city):
    case_create(channel="api", title="噪音A", lon=city.P1[0], lat=city.P1[1])
    case_create(channel="api", title="噪音B", lon=121.0, lat=31.0)
    client.force_login(city.env_officer)
    body = client.get("/governance/cases/").content.decode()
    assert "噪音B" in body and "噪音A" not in body


def test_the_public_tracking_page_needs_no_login_and_hides_the_caller(client, city):
    case = case_create(channel="hotline", title="噪音", lon=city.P1[0], lat=city.P1[1], reporter_phone="13912345678")
    body = client.get("/governance/track/", {"n": case.tracking_number, "p": "5678"}).content.decode()
    assert 'id="case-status"' in body and case.tracking_number in body and "13912345678" not in body


@pytest.mark.parametrize(
    "url",
    [
        "/governance/rules/",
        "/governance/supervision/",
        "/governance/efficiency/",
        "/governance/map/?level=grid",
        "/governance/intake/",
    ],
)
def test_the_staff_pages_render(dispatcher_client, city, url):
    case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    assert dispatcher_client.get(url).status_code == 200


def test_external_developers_get_no_pages(client, city):
    client.force_login(make_user(role=Role.EXTERNAL_DEVELOPER))
    assert client.get("/governance/cases/").status_code == 403


def test_the_map_colours_areas_by_open_cases(dispatcher_client, city):
    case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    resp = dispatcher_client.get("/governance/map/", {"level": "grid"})
    assert resp.context["max"] == 1 and '\\"open\\": 1' in resp.content.decode()


def test_dispatchers_add_rules_in_the_editor(dispatcher_client, city):
    resp = dispatcher_client.post(
        "/governance/rules/", {"category": city.litter.id, "department": city.env.id, "order": 5, "is_active": "on"}
    )
    assert resp.status_code == 302
    from governance.models import DispatchRule

    assert DispatchRule.objects.filter(category=city.litter, department=city.env, order=5).exists()


def test_attachments_are_served_to_those_who_may_open_the_case_only(client, city, settings, tmp_path):
    """With DEBUG off (the demo too) media files are not served publicly; the case page links to
    an authorised download instead."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from governance.services.cases import case_attach

    settings.MEDIA_ROOT = str(tmp_path)
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])  # dispatched to 城管局
    att = case_attach(case_id=case.id, uploaded_file=SimpleUploadedFile("photo.jpg", b"jpegdata", "image/jpeg"))
    url = f"/governance/cases/{case.id}/attachments/{att.id}/"
    assert client.get(f"/media/{att.file.name}").status_code == 404
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(city.officer)
    assert url in client.get(f"/governance/cases/{case.id}/").content.decode()
    resp = client.get(url)
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == b"jpegdata"
    client.force_login(city.env_officer)  # another department
    assert client.get(url).status_code == 404


def test_the_case_page_gives_handlers_the_citizens_private_link(client, city):
    case = case_create(channel="hotline", title="噪音", lon=city.P1[0], lat=city.P1[1], reporter_phone="13912345678")
    client.force_login(city.dispatcher)
    body = client.get(f"/governance/cases/{case.id}/").content.decode()
    assert 'id="citizen-link"' in body and case.citizen_key in body
