"""Test settings: the same real PostgreSQL/PostGIS, Redis and Mosquitto, with cheap hashing."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run against a separate Redis logical database so they never touch a running demo.
REDIS_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/9")
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [REDIS_URL]  # noqa: F405
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
LANGUAGE_CODE = "zh-hans"
# Domain-event handlers run in-process right after commit (no worker needed in unit tests).
DOMAIN_EVENTS_EAGER = True
# Uploaded files of tests (imports) stay out of a demo's media; the test Celery worker shares it.
MEDIA_ROOT = env.str("TEST_MEDIA_ROOT", default=str(BASE_DIR / "var" / "test-media"))
# Webhook retries back off from 1 s (30 s in production) so a real worker's retries fit in a test.
MONITORING_WEBHOOK_BACKOFF_S = 1
# The demo city is built in several tests: 24 governance cases instead of 300 keep them fast.
GOVERNANCE_DEMO_CASES = 24
# Rules are evaluated right after each ingest batch commits, so a test sees the alert at once
# (tests/datahub/test_monitoring_ingest.py covers the background thread explicitly).
MONITORING_EVALUATE_IN_BACKGROUND = False
