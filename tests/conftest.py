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
from tests.helpers import child_database_url, process_stop

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


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup, django_db_blocker):
    """One real Celery worker process for the session, on a queue of its own, using the test
    database. Tasks reach it only while a test that asks for `celery_worker_process` runs."""
    from cityos.celery import app

    queue = f"cityos-test-{uuid.uuid4().hex[:8]}"
    # CELERY_QUEUE: tasks the worker itself queues (an import queues entity linking) stay on this
    # test queue instead of reaching whatever worker serves the default queue on this Redis DB.
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="cityos.settings.test", DATABASE_URL=child_database_url(), CELERY_QUEUE=queue
    )
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"celery-worker{os.environ.get('PYTEST_XDIST_WORKER', '')}.log", "w")  # noqa: SIM115 - closed in the finally below
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
        yield {"queue": queue, "pid": proc.pid, "process": proc, "name": f"{queue}@{os.uname().nodename}"}
    finally:
        process_stop(proc, timeout=10)
        log.close()


@pytest.fixture
def celery_worker_process(_celery_worker_session):
    """Route this test's tasks to the real worker; afterwards wait until it is idle, so no task
    of this test still touches the database when the next test flushes it."""
    from cityos.celery import app

    worker = _celery_worker_session
    app.conf.task_default_queue = worker["queue"]
    try:
        yield worker
    finally:
        app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
        inspect = app.control.inspect(destination=[worker["name"]], timeout=1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            active, reserved = inspect.active() or {}, inspect.reserved() or {}
            if not any(active.values()) and not any(reserved.values()):
                break
            time.sleep(0.1)


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
