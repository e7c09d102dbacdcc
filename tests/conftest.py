"""Shared fixtures. Tests talk to the real PostgreSQL/PostGIS, Redis, Mosquitto and Celery."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import make_department, make_user

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def data_dir() -> Path:
    """The shared real datasets; skipped with a clear reason where absent (never on CI)."""
    path = Path(os.environ.get("CITYOS_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-data tests, but {path} is missing")
        pytest.skip(f"real datasets not found at {path} (set CITYOS_DATA_DIR)")
    return path


@pytest.fixture
def department(db):
    return make_department()


@pytest.fixture
def user(db, department):
    return make_user(department=department)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def auth_client(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker in its own process, on a queue of its own, using the test database.

    Tests that need the worker to see their rows must use `transactional_db` (committed data).
    """
    from cityos.celery import app

    queue = f"cityos-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="cityos.settings.test", DATABASE_URL=_test_database_url())
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "celery-worker.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cityos",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}; see {log.name}")
        else:
            raise RuntimeError("celery worker did not answer a ping within 30 s")
        yield {"queue": queue, "pid": proc.pid, "process": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Governance caches rules, model, gazetteer and reference data per process for 30–60 s; every
    test (including cross-app flows such as a flagged document becoming a case) starts fresh."""
    from governance.services.classification import classifier_cache_reset
    from governance.services.location import gazetteer_reset
    from governance.services.refcache import refcache_reset_all

    def reset():
        classifier_cache_reset()
        gazetteer_reset()
        refcache_reset_all()

    reset()
    yield
    reset()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (the test Redis database, never the demo's)."""
    from django.core.cache import cache

    yield
    try:
        cache.clear()
    except Exception:  # noqa: BLE001,S110 - a test that stopped Redis on purpose must not fail teardown
        pass
