import pytest

from datahub.text.services.documents import RawItem, documents_ingest
from tests.datahub.text.factories import make_places, make_source
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#page-title")


def test_it_searches_reads_and_flags_a_post_and_shows_the_dashboard(live_server, page, user):
    p = make_places()
    p["jiangnan"].centroid = "SRID=4326;POINT(120.0 30.1)"
    p["jiangnan"].save()
    source = make_source(connector="push", name="市民论坛")
    documents_ingest(
        source_id=source.id,
        run_id=None,
        items=[
            RawItem(title="长安街道垃圾站太臭", body="江南区长安街道的垃圾中转站臭气熏天，没人管", external_id="a"),
            RawItem(title="图书馆延长开放", body="滨湖区图书馆周末开放到九点，点赞", external_id="b"),
        ],
    )
    _login(page, live_server, user)

    page.goto(f"{live_server.url}/datahub/text/documents/?q=垃圾中转站")
    assert page.locator("#doc-list li.doc").count() == 1
    marks = page.locator("#doc-list mark").all_inner_texts()
    assert "垃圾" in marks and "中转站" in marks  # the query is segmented like the index
    page.click("#doc-list a.doc-title")
    page.wait_for_selector("#doc-areas")
    assert "长安街道" in page.locator("#doc-areas").inner_text()
    page.click("#flag-button")
    page.wait_for_selector("#flagged")

    page.goto(f"{live_server.url}/datahub/text/opinion/")
    page.wait_for_selector("#volume-chart canvas")
    page.wait_for_selector("#sentiment-chart canvas")
    page.wait_for_selector("#opinion-map .area-marker")
    assert page.locator("#top-docs li").count() == 2

    page.goto(f"{live_server.url}/datahub/text/sources/")
    assert page.locator(f"#sources-table tr[data-code='{source.code}']").count() == 1
