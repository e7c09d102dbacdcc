import pytest

from governance.models import Case
from governance.services.cases import case_create
from tests.factories import PASSWORD
from tests.governance.factories import MiniCity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def test_an_officer_accepts_cases_in_bulk_from_the_inbox(live_server, page):
    city = MiniCity()
    cases = [case_create(channel="api", title=f"噪音扰民{i}", lon=city.P1[0], lat=city.P1[1]) for i in range(3)]
    _login(page, live_server, city.officer)
    page.goto(f"{live_server.url}/governance/cases/")
    assert page.locator("#inbox-table tbody tr").count() == 3
    assert page.locator("#inbox-table .sla").first.get_attribute("data-sla") in ("ok", "warning")
    page.check("#select-all")
    page.select_option("#bulk-action", "accept")
    page.click("#bulk-submit")
    page.wait_for_selector(".messages li")
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("status", flat=True)) == {"accepted"}


def test_an_officer_works_a_case_from_its_page(live_server, page):
    city = MiniCity()
    case = case_create(channel="hotline", title="酒吧噪音", lon=city.P1[0], lat=city.P1[1])
    _login(page, live_server, city.officer)
    page.goto(f"{live_server.url}/governance/cases/{case.id}/")
    assert page.locator("#page-title").inner_text().startswith(case.tracking_number)
    # The map shows the case's point (Leaflet served locally).
    page.wait_for_selector("#case-map .leaflet-interactive")
    page.click("button[data-action=accept]")
    page.wait_for_selector("#case-status[data-status=accepted]")
    page.fill("#case-actions form:has(button[data-action=resolve]) input[name=note]", "已协调店家整改")
    page.click("button[data-action=resolve]")
    page.wait_for_selector("#case-status[data-status=resolved]")
    assert page.locator("#timeline li").count() == 4
    assert page.locator("#timeline li[data-action=resolve]").inner_text().count("已协调店家整改") == 1
