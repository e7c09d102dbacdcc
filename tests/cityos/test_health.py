import pytest
from django.test import override_settings

from tests.datahub.conftest import mqtt_broker  # noqa: F401 - a private broker with device authentication

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_reports_every_component_up_with_a_real_worker(client, celery_worker_process, mqtt_broker):  # noqa: F811
    resp = client.get("/health/")
    body = resp.json()
    assert resp.status_code == 200, body
    assert body["status"] == "up"
    assert set(body["checks"]) == {"database", "redis", "celery", "mqtt"}
    assert all(c["status"] == "up" for c in body["checks"].values())
    assert "PostGIS" in body["checks"]["database"]["detail"]
    # The answer came from the worker process the fixture started, not from this process.
    assert body["checks"]["celery"]["detail"].endswith(f":{celery_worker_process['pid']}")
    assert body["checks"]["mqtt"]["detail"] == f"broker 127.0.0.1:{mqtt_broker.port}"


def test_it_reports_mqtt_down_when_the_broker_refuses_the_health_checks_credentials(client, mqtt_broker):  # noqa: F811
    # Anonymous access is off: without its own credentials the health check is refused.
    with override_settings(MQTT_HEALTH_USERNAME="", MQTT_HEALTH_PASSWORD=""):
        body = client.get("/health/").json()
    assert body["checks"]["mqtt"]["status"] == "down"
    assert "Not authorized" in body["checks"]["mqtt"]["detail"]
    with override_settings(MQTT_HEALTH_PASSWORD="wrong"):
        body = client.get("/health/").json()
    assert body["checks"]["mqtt"]["status"] == "down"


@override_settings(MQTT_PORT=1)  # nothing listens on port 1
def test_it_answers_503_and_names_the_component_that_is_down(client, celery_worker_process):
    resp = client.get("/health/")
    body = resp.json()
    assert resp.status_code == 503
    assert body["status"] == "down"
    assert body["checks"]["mqtt"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"


@override_settings(HEALTH_CELERY_TIMEOUT=1)
def test_it_reports_celery_down_when_no_worker_consumes_the_queue(client):
    from cityos.celery import app

    old = app.conf.task_default_queue
    app.conf.task_default_queue = "cityos-test-nobody-listens"
    try:
        resp = client.get("/health/")
    finally:
        app.conf.task_default_queue = old
    assert resp.status_code == 503
    assert resp.json()["checks"]["celery"]["status"] == "down"


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_it_reports_redis_down(client, celery_worker_process):
    resp = client.get("/health/")
    assert resp.status_code == 503
    assert resp.json()["checks"]["redis"]["status"] == "down"
