import threading

import pytest
from django.utils import timezone

from datahub.models import Alert
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services.evaluate import on_observations
from tests.datahub.monitoring.factories import make_rule
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _in_thread(fn, *args, **kwargs):
    """Run service code off this thread: Playwright's event loop runs here, and the realtime push
    (async_to_sync) refuses to run beside it."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("result", fn(*args, **kwargs)))
    t.start()
    t.join(30)
    return box["result"]


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/?next=/monitoring/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#alert-table")


def test_it_acknowledges_an_alert_in_the_console(live_server, page, user, department):
    rule = make_rule(name="PM2.5 high", params={"threshold": 150}, department_id=department.id)
    alert, _ = _in_thread(svc.alert_raise, rule=rule, subject_key="ds:1", at=timezone.now(), value=180)
    _login(page, live_server, user)
    row = page.locator(f"tr[data-alert-id='{alert.id}']")
    assert "PM2.5 high" in row.inner_text()
    row.locator("button.ack-btn").click()
    page.wait_for_selector(f"tr[data-alert-id='{alert.id}'] .ack")
    assert row.locator("button.ack-btn").count() == 0
    alert.refresh_from_db()
    assert alert.acknowledged and alert.acknowledged_by_id == user.id


def _fresh_child():
    """In the forked server: drop what belongs to the parent (channel layer and Redis sockets,
    executor threads); inheriting them hangs the WebSocket handshake."""
    from channels.layers import channel_layers

    from datahub.monitoring.services import rules

    channel_layers.backends.clear()
    rules._clients.clear()
    # asgiref's single thread for thread-sensitive sync_to_async (the session lookup of every
    # WebSocket connect) was started in the parent: after fork it is gone, so a fresh one.
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)


@pytest.fixture
def asgi_live_server(transactional_db):
    """Daphne in a child process (HTTP and WebSockets), on the test database: Django's live_server
    speaks WSGI only, so it cannot carry the console's live updates."""
    from functools import partial

    from channels.testing.live import make_application
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.db import connections

    connections.close_all()  # the child must open its own connections
    proc = DaphneProcess(
        "127.0.0.1", partial(make_application, static_wrapper=ASGIStaticFilesHandler), setup=_fresh_child
    )
    proc.start()
    assert proc.ready.wait(30), "daphne did not start"

    class Server:
        url = f"http://127.0.0.1:{proc.port.value}"

    yield Server
    proc.terminate()
    proc.join(10)


def test_it_shows_a_new_critical_alert_live_without_reloading(asgi_live_server, page, user, department):
    live_server = asgi_live_server
    make_rule(name="Gas leak", params={"threshold": 10}, severity="critical", department_id=department.id, metric="gas")
    _login(page, live_server, user)
    page.wait_for_function("document.getElementById('live-status').textContent === '✓'")
    obs = {"datastream_id": 4, "metric": "gas", "device_type": "gas", "area_id": None, "subject_id": None}
    _in_thread(on_observations, [{**obs, "time": timezone.now(), "value": 50}])
    alert = Alert.objects.get()
    page.wait_for_selector(f"tr.critical[data-alert-id='{alert.id}']")
    assert page.locator("#live-toast").is_visible()
    assert "Gas leak" in page.locator("#live-toast").inner_text()


def test_it_previews_a_rule_in_the_editor_over_the_last_7_days(live_server, page, user):
    from datetime import timedelta

    from datahub.monitoring.services.preview import register_series_reader, unregister_series_reader

    now = timezone.now()
    # Six hourly readings 3 days ago: 3 above 150 in a row (fires at the 3rd), then back to 90 (clears).
    values = [100, 160, 170, 180, 90, 80]
    start = now - timedelta(days=3)

    def reader(scope, since, until):
        return [
            {
                "datastream_id": 1,
                "time": start + timedelta(hours=i),
                "value": v,
                "metric": scope["metric"],
                "device_type": "air",
                "area_id": None,
                "subject_id": None,
            }
            for i, v in enumerate(values)
        ]

    register_series_reader(reader)
    try:
        page.goto(f"{live_server.url}/login/?next=/monitoring/rules/new/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector("#rule-form")
        page.fill("#id_metric", "pm25")
        page.fill("#id_params", '{"threshold": 150, "duration_s": 7200, "clear_threshold": 100}')
        page.click("#preview-rule")
        page.wait_for_selector("#preview-table tbody tr")
        cells = page.locator("#preview-table tbody tr").first.locator("td").all_inner_texts()
        assert cells[0] == "ds:1" and cells[3] == "180"
        assert page.locator("#preview-table tbody tr").count() == 1
        assert page.locator("#preview-summary").inner_text().startswith("6 ")
    finally:
        unregister_series_reader(reader)
