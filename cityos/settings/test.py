"""Test settings: the same real PostgreSQL/PostGIS, Redis and Mosquitto, with cheap hashing."""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run against a separate Redis logical database so they never touch a running demo.
REDIS_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/9")
# Parallel test processes (pytest-xdist: gw0, gw1, ...) each get their own test database (pytest-django
# suffixes its name), Redis database (cache, channel layer, Celery queues, rule state) and media folder.
# Child processes (the test Celery worker, MQTT bridges) inherit PYTEST_XDIST_WORKER and land on the same.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw") and _XDIST_WORKER[2:].isdigit() and int(_XDIST_WORKER[2:]):
    _base, _, _db = REDIS_URL.rpartition("/")
    REDIS_URL = f"{_base}/{(int(_db or 0) + int(_XDIST_WORKER[2:])) % 16}"
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [REDIS_URL]  # noqa: F405
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
LANGUAGE_CODE = "zh-hans"
# Domain-event handlers run in-process right after commit (no worker needed in unit tests).
DOMAIN_EVENTS_EAGER = True
# Uploaded files of tests (imports) stay out of a demo's media; the test Celery worker shares it.
MEDIA_ROOT = env.str("TEST_MEDIA_ROOT", default=str(BASE_DIR / "var" / "test-media")) + (
    f"-{_XDIST_WORKER}" if _XDIST_WORKER else ""
)
# The demo city is built in several tests: 24 governance cases instead of 300 keep them fast.
GOVERNANCE_DEMO_CASES = 24
# Rules are evaluated right after each ingest batch commits, so a test sees the alert at once
# (tests/datahub/monitoring/test_ingest.py covers the background thread explicitly).
MONITORING_EVALUATE_IN_BACKGROUND = False
# Tests never use the system broker's credentials (MQTT_CREDENTIALS_FILE): a test that needs a
# broker starts a private one with the dynamic-security plugin and sets its own
# (tests/datahub/conftest.py `mqtt_broker`); without one, device changes are not pushed anywhere.
MQTT_USERNAME = env.str("MQTT_USERNAME", default="")
MQTT_PASSWORD = env.str("MQTT_PASSWORD", default="")
MQTT_HEALTH_USERNAME = env.str("MQTT_HEALTH_USERNAME", default="")
MQTT_HEALTH_PASSWORD = env.str("MQTT_HEALTH_PASSWORD", default="")
MQTT_ADMIN_USERNAME = env.str("MQTT_ADMIN_USERNAME", default="")
MQTT_ADMIN_PASSWORD = env.str("MQTT_ADMIN_PASSWORD", default="")

# The industry demo step in tests: 200 enterprises instead of 2,000 (tests/industry/test_demo.py
# builds the full size once to check the numbers and the time).
INDUSTRY_DEMO_ENTERPRISES = 200
# Event subscription deliveries: retries back off from 1 s and a silent subscriber times out after
# 2 s, so a real worker's retries fit in a test (production: 30 s and 10 s).
EVENT_WEBHOOK_BACKOFF_S = 1
EVENT_WEBHOOK_TIMEOUT_S = 2
