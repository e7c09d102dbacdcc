import pytest

from cityos.roles import Role
from industry.models import Grant, Notice
from industry.services.indicators import indicators_upsert
from industry.services.matching import match_run
from tests.factories import PASSWORD, make_user
from tests.industry.factories import make_enterprise, make_member, make_policy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _reference_data(db):
    from industry.services.reference import reference_data_ensure

    reference_data_ensure()


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def test_an_enterprise_user_sees_its_profile_with_map_chart_and_policies(live_server, browser):
    ent = make_enterprise(
        name="滨江精密机械有限公司", size="small", industry_code="34", lon=120.01, lat=30.01, tags=["high-tech"]
    )
    indicators_upsert(
        rows=[
            {
                "enterprise_id": ent.id,
                "metric": "revenue",
                "period": "month",
                "period_start": f"2025-{m:02d}-01",
                "value": 100 + m,
            }
            for m in range(1, 13)
        ]
    )
    make_policy(criteria=[{"kind": "size", "codes": ["small"]}], title="小微企业纾困补贴")
    match_run()
    user = make_user(role=Role.ENTERPRISE_USER)
    make_member(ent, user)
    # a phone: 375 px wide
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _login(page, live_server, user)
        page.goto(f"{live_server.url}/industry/enterprises/{ent.id}/")
        assert page.locator("#page-title").inner_text() == "滨江精密机械有限公司"
        page.wait_for_selector("#profile-map .leaflet-interactive")  # the point on the map
        page.wait_for_selector("#indicator-chart canvas")  # ECharts drew the indicators
        assert "小微企业纾困补贴" in page.locator("#matched-policies").inner_text()
        assert ent.uscc in page.locator("#registry-facts").inner_text()
        # nothing wider than the phone: tables became cards
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    finally:
        context.close()


def test_an_officer_confirms_automatic_grants_in_bulk(live_server, page):
    officer = make_user(role=Role.ADMINISTRATOR)
    ents = [make_enterprise(tags=["specialised"]) for _ in range(3)]
    policy = make_policy(
        criteria=[{"kind": "tag", "codes": ["specialised"]}], automatic=True, amount=50, title="专精特新培育资金"
    )
    match_run()
    assert Grant.objects.filter(policy=policy, status="proposed").count() == 3
    _login(page, live_server, officer)
    page.goto(f"{live_server.url}/industry/grants/")
    assert page.locator("#grant-table tbody tr").count() == 3
    page.check("#select-all")
    page.click("#confirm-grants")
    page.wait_for_selector(".messages li")
    assert set(Grant.objects.filter(policy=policy).values_list("status", flat=True)) == {"confirmed"}
    assert Notice.objects.filter(enterprise__in=ents).count() == 3
    page.goto(f"{live_server.url}/industry/enterprises/{ents[0].id}/")
    assert "专精特新培育资金" in page.locator("#grants").inner_text()
