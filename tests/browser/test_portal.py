"""The citizen portal on a phone (375 x 812) with axe-core, and the counter officer's queue."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from livelihood.models import Appointment, Report, Slot
from livelihood.services.appointments import slots_generate
from livelihood.services.guide import life_event_save
from livelihood.services.notices import notice_save, notice_set_status
from tests.factories import PASSWORD
from tests.governance.factories import MiniCity
from tests.livelihood.factories import make_facilities, make_office, make_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True,
        geolocation={"longitude": 120.02, "latitude": 30.02}, permissions=["geolocation"],
    )  # fmt: skip
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def _serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def _city():
    city = MiniCity()
    a = make_service(department=city.urban, code="BIRTH", name="出生登记", name_en="Birth registration",
                     materials=[{"name": "身份证"}])  # fmt: skip
    b = make_service(department=city.urban, code="HUKOU", name="户口登记", materials=[{"name": "户口簿"}])
    life_event_save(code="baby", name="生孩子", name_en="Having a baby", service_codes=["BIRTH", "HUKOU"])
    office = make_office(department=city.urban, services=[a, b], capacity=3)
    slots_generate(office_id=office.id, days=2, start=timezone.localdate() + timedelta(days=1))
    n = notice_save(department_id=city.urban.id, title="停水通知", body="明天 **停水**", pinned=True)
    notice_set_status(notice_id=n.id, status="published")
    make_facilities([(120.02, 30.02), (120.03, 30.03), (120.021, 30.021)])
    return city, office, a


def test_the_portal_on_a_phone_is_accessible_and_reports_a_problem(live_server, phone):
    city, _office, _svc = _city()
    page = phone
    for path in ("/portal/", "/portal/services/BIRTH/", "/portal/life-events/baby/", "/portal/map/",
                 "/portal/notices/", "/portal/report/", "/portal/track/", "/portal/account/register/"):  # fmt: skip
        page.goto(f"{live_server.url}{path}")
        if path == "/portal/map/":
            page.wait_for_selector("#facility-map .leaflet-interactive")
            # The map's own layers are in its legend (issue 18: legends on every map layer).
            legend = page.locator("#facility-map [data-legend]").all_inner_texts()
            assert {"设施", "Facility"} & set(legend), legend
        assert _serious(page) == [], path
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    page.goto(f"{live_server.url}/portal/")
    page.select_option("#near-type", "library")
    page.click("#near-btn")
    page.wait_for_selector("#near-list li small")
    assert page.locator("#near-list li").count() == 3
    assert page.locator("#near-list li").first.inner_text().startswith("library")  # the factory's name
    # The type is shown by its label, never its code.
    assert page.locator("#near-list li small").first.inner_text().startswith("图书馆 · ")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal-home-375.png"), full_page=True)

    # Report a problem: tap the map (inside the city), describe it, send; the link tracks it.
    page.goto(f"{live_server.url}/portal/report/")
    page.select_option("#id_category", "noise")
    page.fill("#id_description", "楼下酒吧夜里噪音很大")
    page.click("#use-position")
    page.wait_for_function("document.getElementById('id_lon').value !== ''")
    page.click("#report-submit")
    page.wait_for_selector("#track-link")
    assert _serious(page) == []
    page.click("#track-link")
    page.wait_for_selector("#report-status")
    report = Report.objects.get()
    assert report.number in page.content() and report.case_number
    page.screenshot(path=str(ARTIFACTS / "portal-track-375.png"), full_page=True)


def test_a_citizen_books_on_a_phone_and_the_counter_officer_serves_them(live_server, phone, browser):
    city, office, svc = _city()
    page = phone
    page.goto(f"{live_server.url}/portal/services/BIRTH/book/")
    assert _serious(page) == []
    page.locator("input[name=slot]").first.check()
    page.fill("#id_name", "张三")
    page.fill("#id_phone", "13800000000")
    page.click("#book-submit")
    page.wait_for_selector("#appt-code")
    appt = Appointment.objects.get()
    assert page.locator("#appt-code").inner_text() == appt.code
    assert _serious(page) == []

    staff = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}).new_page()
    staff.goto(f"{live_server.url}/login/")
    staff.fill("#id_username", city.officer.username)
    staff.fill("#id_password", PASSWORD)
    staff.click("#login-submit")
    staff.wait_for_selector("#page-title")
    day = timezone.localtime(appt.slot.starts_at).date().isoformat()
    staff.goto(f"{live_server.url}/livelihood/counter/{office.id}/?day={day}")
    row = staff.locator(f"tr[data-code='{appt.code}']")
    row.locator("button[value=check_in]").click()
    staff.wait_for_selector(f"tr[data-code='{appt.code}'] button[value=serve]")
    staff.locator(f"tr[data-code='{appt.code}'] button[value=serve]").click()
    staff.wait_for_selector(f"tr[data-code='{appt.code}'] button[value=done]")
    staff.locator(f"tr[data-code='{appt.code}'] button[value=done]").click()
    staff.wait_for_selector(f"tr[data-code='{appt.code}'] td.status[data-status=served]")
    appt.refresh_from_db()
    assert appt.status == "served" and appt.queue_number == 1
    staff.screenshot(path=str(ARTIFACTS / "counter-queue.png"), full_page=True)

    # Back on the phone, the citizen rates the served appointment.
    page.reload()
    page.check("input[name=score][value='5']")
    page.click("#rate-submit")
    page.wait_for_url("**rated=1")
    appt.refresh_from_db()
    assert appt.rating.score == 5
    assert Slot.objects.get(pk=appt.slot_id).booked == 1
    del svc
