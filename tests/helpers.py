"""Plain helpers shared by test modules (fixtures live in the conftest files)."""

import signal
import socket
import subprocess
import time

from django.conf import settings


def child_database_url() -> str:
    """The URL of the database this test run uses, for child processes (worker, MQTT bridge)."""
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def free_port() -> int:
    """A TCP port nobody listens on right now (for a private broker, server or SMTP sink)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, what: str = "the condition", interval: float = 0.05) -> float:
    """Poll `predicate()` until it is true: the seconds it took; AssertionError naming `what` after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def process_kill(proc: subprocess.Popen) -> None:
    """Kill a child process (a worker or bridge dying mid-work) and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def process_stop(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    """Stop a child process gracefully (SIGTERM), killing it if it does not exit within `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
