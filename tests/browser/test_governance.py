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


def test_a_leader_sees_the_efficiency_chart_and_the_case_map(live_server, page):
    from cityos.roles import Role
    from governance.services.cases import case_transition
    from tests.factories import make_user

    city = MiniCity()
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    _login(page, live_server, make_user(role=Role.CITY_LEADER))
    page.goto(f"{live_server.url}/governance/efficiency/")
    page.wait_for_selector("#efficiency-chart canvas")
    assert city.urban.name in page.locator("#efficiency-table tbody tr").first.inner_text()
    page.goto(f"{live_server.url}/governance/map/?level=grid")
    # Two grids drawn; the one with open cases is filled darker than the empty one.
    page.wait_for_selector("#choropleth path.leaflet-interactive")
    fills = page.eval_on_selector_all(
        "#choropleth path.leaflet-interactive", "els => els.map(e => e.getAttribute('fill'))"
    )
    assert len(fills) == 2 and len(set(fills)) == 2


def test_a_citizen_follows_and_rates_a_case_without_logging_in(live_server, page):
    from governance.services.cases import case_transition

    city = MiniCity()
    case = case_create(
        channel="hotline", title="酒吧噪音", lon=city.P1[0], lat=city.P1[1], reporter_phone="139-1234-5678"
    )
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="已整改")
    # The number alone shows nothing; with the last 4 digits of the caller's phone the case opens.
    page.goto(f"{live_server.url}/governance/track/?n={case.tracking_number}")
    assert page.locator("#case-status").count() == 0
    page.fill("#track-form input[name=p]", "5678")
    page.click("#track-form button[type=submit]")
    assert case.tracking_number in page.locator("#case-status h2").inner_text()
    page.select_option("#rate-form select[name=rating]", "5")
    page.fill("#rate-form input[name=comment]", "处理很快")
    page.click("#rate-form button[type=submit]")
    page.wait_for_selector(".messages li")
    case.refresh_from_db()
    assert (case.rating, case.rating_comment, case.status) == (5, "处理很快", "resolved")
