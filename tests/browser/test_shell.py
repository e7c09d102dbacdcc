import pytest

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_in_switches_language_and_sees_the_dashboard(live_server, page, user):
    page.goto(f"{live_server.url}/")
    # Anonymous: the login page, in Chinese by default.
    assert "/login/" in page.url
    assert page.locator("h1").inner_text() == "登录城市操作系统"
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")
    assert page.locator("#page-title").inner_text() == "本部门待办"
    assert page.locator("nav.sidebar a[data-nav=home]").inner_text() == "总览"

    page.select_option("#language-select", "en")
    page.wait_for_load_state("load")
    page.wait_for_selector("#page-title")
    assert page.locator("#page-title").inner_text() == "My department's work"
    assert page.locator("nav.sidebar a[data-nav=home]").inner_text() == "Dashboard"
    assert page.locator("html").get_attribute("lang") == "en"


def test_it_shows_an_error_for_a_wrong_password(live_server, page, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "wrong")
    page.click("#login-submit")
    page.wait_for_load_state()  # the form posts and the login page comes back with the error
    page.locator("[role=alert]").wait_for(state="visible", timeout=10_000)
    assert page.locator("[role=alert]").is_visible()
    assert "/login/" in page.url
