"""`python -m cityos.serve`: several daphne processes share one socket; a dead one is replaced."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import child_database_url, free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def _get(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10) as resp:
        return resp.status


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached")


@pytest.mark.django_db
def test_serve_runs_workers_on_one_socket_and_replaces_a_dead_one():
    port = free_port()
    env = dict(os.environ, DATABASE_URL=child_database_url(), DJANGO_SETTINGS_MODULE="cityos.settings.test")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "cityos.serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    replaced: set[int] = set()
    try:
        workers = _wait(lambda: _pair(proc.pid))
        # Both processes accept on the shared socket: many requests all succeed.
        _wait(lambda: _try(port))
        assert [_get(port) for _ in range(10)] == [200] * 10

        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        replaced = _wait(lambda: _pair(proc.pid, without=victim))
        assert len(replaced - workers) == 1
        _wait(lambda: _try(port))
        assert [_get(port) for _ in range(10)] == [200] * 10
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert b"restarting" in out
    for pid in replaced:  # the launcher stopped and reaped its workers before exiting
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _pair(pid: int, without: int | None = None) -> set[int] | None:
    """The launcher's two workers, once there are exactly two (and `without` is not one of them)."""
    children = _children(pid)
    return children if len(children) == 2 and without not in children else None


def _try(port: int) -> bool:
    try:
        return _get(port) == 200
    except OSError:
        return False
