"""Webhook retries with backoff through the real broker and a real Celery worker process."""

import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from datahub.models import WebhookDelivery, WebhookEndpoint
from datahub.services.monitoring import alerts as svc
from tests.datahub.monitoring_factories import make_rule

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def flaky_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(time.monotonic())
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
    WebhookEndpoint.objects.create(name="ops", url=url, secret="worker-test-secret-123", max_attempts=5)
    rule = make_rule(params={"threshold": 1}, severity="critical")
    # Committed at once (transactional test): the raise queues the delivery task after commit.
    svc.alert_raise(rule=rule, subject_key="ds:1", at=timezone.now(), value=2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.first()
        if delivery and delivery.status == "succeeded":
            break
        time.sleep(0.2)
    assert delivery.status == "succeeded", delivery.attempt_log
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 500, 204]
    times = [datetime.fromisoformat(a["at"]) for a in delivery.attempt_log]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # Backoff: 1 s, then 2 s (test settings; 30 s and 60 s in production).
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9
