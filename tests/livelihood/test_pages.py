import io
import random
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from cityos.roles import Role
from livelihood.models import Appointment, Report, Slot
from livelihood.services.appointments import appointment_counter, slots_generate
from livelihood.services.guide import life_event_save
from livelihood.services.notices import notice_save, notice_set_status
from tests.factories import PASSWORD, make_user
from tests.livelihood.factories import make_office, make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def guide(city):
    a = make_service(department=city.urban, code="BIRTH", name="出生登记", materials=[{"name": "身份证"}])
    b = make_service(
        department=city.urban, code="HUKOU", name="户口登记", materials=[{"name": "身份证"}, {"name": "户口簿"}]
    )
    life_event_save(code="baby", name="生孩子", service_codes=["BIRTH", "HUKOU"])
    office = make_office(department=city.urban, services=[a, b], capacity=3)
    slots_generate(office_id=office.id, days=2, start=timezone.localdate() + timedelta(days=1))
    n = notice_save(department_id=city.urban.id, title="停水通知", body="**明天** 停水", area_ids=[city.street.id])
    notice_set_status(notice_id=n.id, status="published")
    return {"a": a, "b": b, "office": office, "notice": n}


def test_the_portal_pages_render_for_anonymous_visitors(client, guide, city):
    for url in ("/portal/", "/portal/services/?q=出生", "/portal/services/BIRTH/", "/portal/life-events/baby/",
                "/portal/map/", "/portal/notices/", f"/portal/notices/{guide['notice'].id}/", "/portal/report/",
                "/portal/track/", "/portal/account/login/", "/portal/account/register/", "/portal/notices/subscribe/",
                "/portal/services/BIRTH/book/"):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 200, url
        assert b'name="viewport"' in r.content and b"sidebar" not in r.content, url
    home = client.get(f"/portal/?area={city.grid1.id}").content.decode()
    assert "停水通知" in home and "出生登记" in home and "生孩子" in home
    life = client.get("/portal/life-events/baby/").content.decode()
    materials = re.search(r'<ul class="list" id="materials">(.*?)</ul>', life, re.S).group(1)
    assert materials.count("身份证") == 1 and "户口簿" in materials
    notice = client.get(f"/portal/notices/{guide['notice'].id}/").content.decode()
    assert "<strong>明天</strong>" in notice


def test_report_form_posts_a_case_and_gives_a_private_link(client, city, django_capture_on_commit_callbacks):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/portal/report/",
            {"category": "lighting", "description": "路灯坏了好几天", "lon": city.P2[0], "lat": city.P2[1],
             "photo": SimpleUploadedFile("p.jpg", buf.getvalue(), content_type="image/jpeg")},
        )  # fmt: skip
    assert r.status_code == 201
    report = Report.objects.get()
    link = f"/portal/track/{report.number}/?token={report.token}"
    assert link in r.content.decode()
    page = client.get(link)
    assert page.status_code == 200 and report.number in page.content.decode()
    assert client.get(f"/portal/track/{report.number}/").status_code == 404
    # Missing location: 400 naming it, nothing stored.
    r = client.post("/portal/report/", {"category": "roads", "description": "路面有坑洞"})
    assert r.status_code == 400 and Report.objects.count() == 1


def test_portal_booking_and_cancel(client, guide):
    slot = Slot.objects.filter(office=guide["office"]).order_by("starts_at").first()
    r = client.post("/portal/services/BIRTH/book/", {"slot": slot.id, "name": "张三", "phone": "138"})
    assert r.status_code == 302
    appt = Appointment.objects.get()
    assert r["Location"] == f"/portal/appointments/{appt.code}/?token={appt.token}"
    assert client.get(f"/portal/appointments/{appt.code}/").status_code == 404
    page = client.post(f"/portal/appointments/{appt.code}/", {"token": appt.token, "action": "cancel"})
    assert page.status_code == 200
    appt.refresh_from_db()
    assert appt.status == "cancelled"


def test_citizens_register_see_their_things_and_never_staff_pages(client, guide, city):
    r = client.post("/portal/account/register/", {"email": "Li@Example.com", "name": "李四", "password": "long-pass-1"})
    assert r.status_code == 302
    slot = Slot.objects.filter(office=guide["office"]).first()
    client.post("/portal/services/BIRTH/book/", {"slot": slot.id, "name": "李四", "email": "li@example.com"})
    account = client.get("/portal/account/").content.decode()
    assert Appointment.objects.get().code in account
    r = client.get("/")
    assert r.status_code == 302 and r["Location"] == "/portal/"
    for staff_url in ("/livelihood/services/", "/governance/", "/datahub/entities/"):
        assert client.get(staff_url).status_code == 403, staff_url
    assert client.get("/api/v1/governance/cases/").status_code == 403
    client.post("/portal/account/logout/")
    assert (
        client.post("/portal/account/login/", {"email": "li@example.com", "password": "long-pass-1"}).status_code == 302
    )
    # Staff cannot log in through the portal form.
    staff = make_user(department=city.urban, email="s@example.com", username="s@example.com")
    c2 = Client()
    assert c2.post("/portal/account/login/", {"email": staff.username, "password": PASSWORD}).status_code == 400


def test_anonymous_portal_posts_are_rate_limited(client, city):
    ip = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"  # a window of its own
    codes = [
        client.post("/portal/report/", {"category": "roads", "description": "x"}, REMOTE_ADDR=ip).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [400] * 10 and codes[-1] == 429


def test_staff_pages_render_and_the_counter_queue_works(client, guide, city):
    client.force_login(city.officer)
    for url in ("/livelihood/services/", f"/livelihood/services/{guide['a'].id}/", "/livelihood/services/new/",
                "/livelihood/facilities/", "/livelihood/appointments/", "/livelihood/notices/",
                "/livelihood/notices/new/", f"/livelihood/notices/{guide['notice'].id}/", "/livelihood/ratings/",
                f"/livelihood/counter/{guide['office'].id}/"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    slot = Slot.objects.filter(office=guide["office"]).first()
    from livelihood.services.appointments import appointment_book

    appt = appointment_book(slot_id=slot.id, service_id=guide["a"].id, name="王五", phone="1")
    day = timezone.localtime(slot.starts_at).date().isoformat()
    page = client.get(f"/livelihood/counter/{guide['office'].id}/?day={day}").content.decode()
    assert appt.code in page
    r = client.post(f"/livelihood/counter/{guide['office'].id}/{appt.id}/", {"action": "check_in"})
    assert r.status_code == 302
    appt.refresh_from_db()
    assert appt.status == "checked_in" and appt.queue_number == 1
    appointment_counter(appointment_id=appt.id, action="serve")
    # Another department's officer cannot open this office's counter; a citizen is refused.
    client.force_login(city.env_officer)
    assert client.get(f"/livelihood/counter/{guide['office'].id}/").status_code == 404
    client.force_login(make_user(role=Role.CITIZEN))
    assert client.get("/livelihood/services/").status_code == 403


def test_the_service_editor_saves_versions_and_publishes(client, city):
    client.force_login(city.officer)
    r = client.post("/livelihood/services/new/", {
        "code": "NEW-1", "name": "新事项", "department": city.urban.id, "audience": "person", "mode": "both",
        "materials": "身份证 | 2\n照片", "steps": "申请\n受理", "note": "first",
    })  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:2000]
    from livelihood.models import Service

    svc = Service.objects.get(code="NEW-1")
    assert svc.materials == [{"name": "身份证", "copies": 2}, {"name": "照片"}] and svc.version == 1
    client.post(f"/livelihood/services/{svc.id}/status/", {"status": "published"})
    svc.refresh_from_db()
    assert svc.status == "published"
    client.force_login(city.env_officer)
    assert client.get(f"/livelihood/services/{svc.id}/").status_code == 403


def test_a_citizen_rates_a_service_handling_from_its_page(client, guide, django_capture_on_commit_callbacks):
    from governance.models import Case
    from livelihood.models import Rating

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/portal/rate/", {"target": "service", "code": "BIRTH", "score": "2", "reasons": ["slow"]})
    assert r.status_code == 302 and r["Location"] == "/portal/services/BIRTH/?rated=1"
    rating = Rating.objects.get()
    assert rating.service == guide["a"] and rating.reasons == ["slow"]
    assert Case.objects.filter(origin_ref=f"rating:{rating.id}", channel="rating").exists()
    assert client.get("/portal/services/BIRTH/?rated=1").status_code == 200


def test_public_lists_take_a_fixed_number_of_queries(api_client, guide, django_assert_max_num_queries):
    for i in range(3):
        life_event_save(code=f"le{i}", name=f"一件事{i}", service_codes=["BIRTH", "HUKOU"])
    for url in ("/api/v1/livelihood/life-events/", "/api/v1/livelihood/services/", "/api/v1/livelihood/offices/",
                "/api/v1/livelihood/notices/", "/api/v1/livelihood/slots/", "/api/v1/livelihood/facilities/"):  # fmt: skip
        with django_assert_max_num_queries(8):
            assert api_client.get(url).status_code == 200, url
