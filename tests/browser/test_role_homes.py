"""Every role on a desktop and on a phone (issue 18, items 1 and 2): the role's home shows what
needs it now, its menu (a drawer on the phone) lists what it uses, and no page of that menu
scrolls sideways at 375 px; a grid worker files a patrol report with a photo and the phone's
position from a 375 × 812 screen."""

import io

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from cityos.demo.city import DEMO_PASSWORD
from governance.models import Case, CaseAttachment, GridAssignment
from tests.cityos.test_no_raw_codes import _finder, code_words
from tests.demo_snapshot import demo_city as build_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
HOMES = {
    "leader": ("城市运行一览", "cases-today", "analysis-cockpit"),
    "officer": ("本部门待办", "overdue", "gov-inbox"),
    "hotline": ("12345热线受理台", "calls-today", "gov-intake"),
    "grid": ("我的网格", "grid-open", "gov-patrol"),
    "analyst": ("数据、舆情与趋势", "datasets", "datasets"),
    "admin": ("系统状态", "failed-jobs", "admin"),
}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def _login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def _overflowing(page) -> str:
    """The widest elements sticking out of the viewport, to say what to fix."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
           .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')"""
    )


@pytest.fixture
def demo_city(db):
    build_demo()


def test_every_role_has_its_home_and_menu_on_a_desktop_and_a_phone(live_server, browser, demo_city):
    codes = _finder(code_words(), english=False)
    for username, (title, kpi, menu_key) in HOMES.items():
        for name, options in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(locale="zh-CN", **options)
            page = context.new_page()
            page.set_default_timeout(20_000)
            try:
                _login(page, live_server.url, username)
                where = f"{username} on a {name}"
                assert page.locator("#page-title").inner_text() == title, where
                assert page.locator(f"[data-kpi={kpi}]").is_visible(), where
                assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{where}: {_overflowing(page)}"
                # No code word on the home (data shown verbatim, marked translate="no", aside).
                text = page.locator("main").inner_text()
                for verbatim in page.locator("main [translate=no]").all_inner_texts():
                    text = text.replace(verbatim, " ")
                hit = codes.search(text)
                assert hit is None, (
                    f"{where}: code word {hit.group(0)!r} in «{text[max(0, hit.start() - 30) : hit.end() + 30]}»"
                )
                item = page.locator(f".nav-menu a[data-nav={menu_key}]")
                if name == "phone":
                    assert not item.is_visible(), where  # the menu is folded away…
                    page.click("#menu-toggle")  # …behind the menu button
                    assert page.locator("#menu-toggle").get_attribute("aria-expanded") == "true"
                assert item.is_visible(), where
                if name == "phone":
                    # Every page of the role's menu fits a 375 px screen.
                    urls = page.eval_on_selector_all(".nav-menu a", "els => els.map(e => e.getAttribute('href'))")
                    for url in urls:
                        if url.startswith("/admin/"):
                            continue  # Django's admin has its own responsive layout
                        page.goto(f"{live_server.url}{url}")
                        page.wait_for_load_state("load")
                        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{where} {url}: {_overflowing(page)}"
            finally:
                context.close()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "#3a7").save(buf, "JPEG")
    return buf.getvalue()


def test_a_grid_worker_files_a_patrol_report_with_a_photo_from_a_phone(live_server, browser, demo_city):
    worker = get_user_model().objects.get(username="grid")
    grid = GridAssignment.objects.filter(worker=worker, is_active=True).select_related("grid").first().grid
    spot = grid.geometry.point_on_surface
    context = browser.new_context(
        locale="zh-CN",
        geolocation={"latitude": spot.y, "longitude": spot.x, "accuracy": 8},
        permissions=["geolocation"],
        **PHONE,
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _login(page, live_server.url, "grid")
        page.click("#report-problem")
        page.wait_for_selector("#patrol-form")
        page.wait_for_selector("#position-status[data-located='1']")
        assert "已定位" in page.locator("#position-status").inner_text()
        page.fill("#id_title", "人行道井盖破损")
        page.fill("#id_description", "学校门口，行人易绊倒")
        page.set_input_files("#id_photos", files=[{"name": "manhole.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
        page.wait_for_selector("#photo-previews img")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), _overflowing(page)
        page.click("#patrol-submit")
        page.wait_for_selector(".messages li")
        assert "附 1 张照片" in page.locator(".messages li").first.inner_text()
        case = Case.objects.filter(reporter_user=worker, channel="grid", title="人行道井盖破损").get()
        assert case.grid_id == grid.id
        assert abs(case.location.x - spot.x) < 1e-5 and abs(case.location.y - spot.y) < 1e-5
        assert CaseAttachment.objects.filter(case=case, name="manhole.jpg").exists()
        assert page.locator(f"#patrol-my-reports li[data-case='{case.id}']").is_visible()
        # The app is installable: its manifest is linked and the service worker takes the site.
        assert page.locator("link[rel=manifest]").get_attribute("href") == "/manifest.webmanifest"
        page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.ready.then(() => true)")
    finally:
        context.close()
