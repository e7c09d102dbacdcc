import pytest
from django.test import Client

from cityos.roles import Role
from tests.datahub.core.factories import make_area, make_entity, make_event
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, role=Role.ANALYST):
    c = Client()
    c.force_login(make_user(role=role))
    page.context.add_cookies([{"name": "sessionid", "value": c.cookies["sessionid"].value, "url": live_server.url}])


@pytest.fixture
def city():
    c = make_area(code="C1", name="滨江市", level="city", box=(120.0, 30.0, 0.4))
    d1 = make_area(code="C1-01", name="江南区", parent=c, box=(120.0, 30.0, 0.2))
    make_area(code="C1-02", name="滨湖区", parent=c, box=(120.2, 30.0, 0.2))
    make_area(code="C1-01-001", name="长安街道", level="street", parent=d1, box=(120.0, 30.0, 0.1))
    make_area(code="C1-01-002", name="和平街道", level="street", parent=d1, box=(120.1, 30.0, 0.1))
    return c


def test_the_entity_page_shows_identifiers_events_and_a_map_marker(live_server, page, city):
    street = city.children.get(code="C1-01").children.get(code="C1-01-001")
    e = make_entity(name="长安小学", lon=120.05, lat=30.05, area=street, identifiers={"school_code": "S-001"})
    make_event(type="facility.inspected", subject=e, area=street)
    _login(page, live_server)
    page.goto(f"{live_server.url}/datahub/entities/{e.id}/")
    assert page.locator("#page-title").inner_text().startswith("长安小学")
    assert "S-001" in page.locator("#identifiers").inner_text()
    assert "设施巡检" in page.locator("#entity-events").inner_text()  # the event type by its label, not its code
    page.wait_for_selector("#entity-map[data-ready='1']")
    # Leaflet drew the entity's point as an SVG circle marker, plus the street's boundary.
    assert page.locator("#entity-map path.entity-marker").count() == 1
    assert page.locator("#entity-map .leaflet-overlay-pane path").count() == 2
    assert "江南区 › 长安街道" in page.locator("#entity-meta").inner_text()


def test_the_area_map_drills_down_from_the_tree_and_answers_where_a_point_is(live_server, page, city):
    _login(page, live_server)
    page.goto(f"{live_server.url}/datahub/areas/")
    page.wait_for_selector("#area-tree button.tree-node")
    page.wait_for_selector("#area-map[data-ready='1']")
    assert page.locator("#area-map").get_attribute("data-features") == "1"  # the city, the only root
    page.locator("#area-tree button.tree-node", has_text="滨江市").click()
    page.wait_for_selector("#area-tree button.tree-node:has-text('江南区')")
    page.wait_for_function(
        "document.getElementById('area-map').dataset.ready === '1' && document.getElementById('area-title').textContent === '滨江市'"
    )
    assert page.locator("#area-map").get_attribute("data-features") == "2"  # its two districts
    assert page.locator("#area-map path.leaflet-interactive").count() == 2
    # Clicking a district on the map shows its streets.
    page.locator("#area-map path.leaflet-interactive").first.click()
    page.wait_for_function(
        "document.getElementById('area-title').textContent !== '滨江市' && document.getElementById('area-map').dataset.ready === '1'"
    )
    assert page.locator("#area-map").get_attribute("data-features") == "2"
    # Clicking inside a street reports the areas that contain the point.
    page.locator("#area-map path.leaflet-interactive").first.click()
    page.wait_for_function("document.getElementById('area-point').textContent.indexOf('›') > 0")
    assert "滨江市 › 江南区" in page.locator("#area-point").inner_text()
