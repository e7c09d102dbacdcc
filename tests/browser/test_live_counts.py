"""The alert console's count cards follow live alerts (issue 11, item 14): a raise pushed over
the WebSocket, then an acknowledgement, change the cards without a reload."""

import pytest
from django.utils import timezone

from datahub.models import Alert
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services.evaluate import on_observations
from tests.browser.test_monitoring_console import _in_thread, _login, asgi_live_server  # noqa: F401 - fixture
from tests.datahub.monitoring.factories import make_rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _card(page, el_id):
    return page.locator(f"#{el_id}").inner_text().strip()


def test_the_alert_count_cards_change_when_an_alert_arrives_live(asgi_live_server, page, user, department):  # noqa: F811
    make_rule(name="Gas leak", params={"threshold": 10}, severity="critical", department_id=department.id, metric="gas")
    _login(page, asgi_live_server, user)
    page.wait_for_function("document.getElementById('live-status').textContent === '✓'")
    assert (_card(page, "count-active"), _card(page, "count-unack"), _card(page, "count-critical")) == ("0", "0", "0")
    obs = {"datastream_id": 4, "metric": "gas", "device_type": "gas", "area_id": None, "subject_id": None}
    _in_thread(on_observations, [{**obs, "time": timezone.now(), "value": 50}])
    page.wait_for_function("document.getElementById('count-active').textContent.trim() === '1'", timeout=10_000)
    assert (_card(page, "count-unack"), _card(page, "count-critical")) == ("1", "1")
    # Acknowledged elsewhere (another officer, the API): the unacknowledged card drops to 0.
    alert = Alert.objects.get()
    _in_thread(svc.alert_acknowledge, alert=alert, actor=None)
    page.wait_for_function("document.getElementById('count-unack').textContent.trim() === '0'", timeout=10_000)
    assert _card(page, "count-active") == "1"
