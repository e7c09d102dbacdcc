"""An alert reaches a staff webhook (the city's own event subscription) exactly once, signed, with
retries and backoff, through the real broker and a real Celery worker process."""

import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from cityos.models import EventDelivery
from cityos.roles import Role
from cityos.webhooks import delivery as signing
from datahub.monitoring.services import alerts as svc
from datahub.monitoring.services import webhooks as webhook_services
from tests.datahub.monitoring.factories import make_rule
from tests.factories import make_department, make_user

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def flaky_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hits.append((dict(self.headers), body))
            self.send_response(500 if len(hits) <= 2 else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    server.shutdown()
    server.server_close()


def test_it_retries_a_failing_webhook_with_backoff_in_a_worker_until_it_succeeds(celery_worker_process, flaky_server):
    url, hits = flaky_server
    department = make_department()
    admin = make_user(role=Role.ADMINISTRATOR)
    sub, secret = webhook_services.webhook_create(
        created_by=admin, name="ops", url=url, department_id=department.id, max_attempts=5
    )
    rule = make_rule(params={"threshold": 1}, severity="critical", department_id=department.id)
    # Committed at once (transactional test): the raise queues the delivery task after commit.
    svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        delivery = EventDelivery.objects.filter(subscription=sub).first()
        if delivery and delivery.status == "succeeded":
            break
        time.sleep(0.2)
    assert delivery.status == "succeeded", delivery.attempt_log
    # The server answers 500 twice, then 204. On a loaded machine an answer can come after the
    # sender's timeout (2 s in tests): that attempt is logged without a status, and retried all the same.
    codes = [a["status_code"] for a in delivery.attempt_log]
    assert len(codes) == 3 and codes[-1] == 204 and set(codes[:-1]) <= {500, None}, delivery.attempt_log
    times = [datetime.fromisoformat(a["at"]) for a in delivery.attempt_log]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # Backoff: 1 s, then 2 s (test settings; 30 s and 60 s in production).
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9
    headers, body = hits[-1]
    assert signing.verify(secret, headers["X-CityOS-Timestamp"], body, headers["X-CityOS-Signature"])
    assert headers["X-CityOS-Event"] == "alert.raised"
    time.sleep(1.5)  # nothing else on its way: one delivery, three attempts, no second path
    assert EventDelivery.objects.count() == 1 and len(hits) == 3
