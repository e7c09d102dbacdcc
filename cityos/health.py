"""`GET /health/`: one check per component; HTTP 503 when any of them is down.

Each check is bounded by a short timeout so a dead component makes the endpoint answer
"down" within a few seconds instead of hanging the load balancer's probe.
"""

import time
import uuid

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _timed(fn):
    start = time.perf_counter()
    try:
        detail = fn()
        status = "up"
    except Exception as exc:  # noqa: BLE001 - any failure of a component means "down"
        detail = f"{type(exc).__name__}: {exc}"
        status = "down"
    return {"status": status, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def check_database() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        return f"PostGIS {cur.fetchone()[0]}"


def check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
        return f"Redis {client.info('server')['redis_version']}"
    finally:
        client.close()


def check_celery() -> str:
    from cityos.tasks import ping

    token = uuid.uuid4().hex
    result = ping.apply_async(args=[token], expires=10)
    try:
        reply = result.get(timeout=getattr(settings, "HEALTH_CELERY_TIMEOUT", 5))
    finally:
        result.forget()
    if reply.get("token") != token:
        raise RuntimeError("worker answered with the wrong token")
    return f"worker {reply['worker']}"


def check_mqtt() -> str:
    """Open an MQTT 3.1.1 session (CONNECT -> CONNACK) with the broker, as the health check's
    client (MQTT_HEALTH_USERNAME / MQTT_HEALTH_PASSWORD): refused credentials count as down."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cityos-health-{uuid.uuid4().hex[:8]}")
    connected = {}

    def on_connect(_c, _u, _flags, reason_code, _props):
        connected["rc"] = reason_code

    client.on_connect = on_connect
    if settings.MQTT_HEALTH_USERNAME:  # its own broker client (anonymous access is off)
        client.username_pw_set(settings.MQTT_HEALTH_USERNAME, settings.MQTT_HEALTH_PASSWORD)
    client.connect(settings.MQTT_HOST, settings.MQTT_PORT, keepalive=5)
    deadline = time.monotonic() + 3
    while "rc" not in connected and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    if "rc" not in connected:
        raise TimeoutError("no CONNACK from the broker")
    if connected["rc"].is_failure:
        raise RuntimeError(f"broker refused: {connected['rc']}")
    return f"broker {settings.MQTT_HOST}:{settings.MQTT_PORT}"


CHECKS = {
    "database": check_database,
    "redis": check_redis,
    "celery": check_celery,
    "mqtt": check_mqtt,
}


@never_cache
@require_GET
def health(request):
    checks = {name: _timed(fn) for name, fn in CHECKS.items()}
    ok = all(c["status"] == "up" for c in checks.values())
    return JsonResponse({"status": "up" if ok else "down", "checks": checks}, status=200 if ok else 503)
