import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.utils import translation

from tests.helpers import child_database_url, free_port


@pytest.fixture
def english(settings):
    """The dataset tests assert messages in English (the default language is Chinese; one test checks that)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def media_tmp(settings, tmp_path):
    """Uploaded import files go to a temporary media root (tests that use a worker keep the shared one)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


"""A private Mosquitto broker per test that needs one (its own port, config and persistence
directory), so a test may kill and restart it without touching the shared broker."""


ROOT = Path(__file__).resolve().parent.parent.parent
BROKER_CONF = ROOT / "deploy" / "mosquitto" / "cityos.conf"


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on {port}")


class Broker:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        # Run as root, Mosquitto drops to the `mosquitto` user: it must be able to write its
        # persistence file here, or sessions would not survive the restart under test.
        workdir.chmod(0o777)
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            BROKER_CONF.read_text()
            + f"\nlistener {self.port} 127.0.0.1\nallow_anonymous true\npersistence_location {workdir}/\n"
            + f"log_dest file {workdir}/mosquitto.log\n"
        )
        self.conf = conf
        self.proc = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def stop(self) -> None:
        """Graceful stop (SIGTERM): Mosquitto writes its persistent sessions to disk."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)


@pytest.fixture
def mqtt_broker():
    # Not under pytest's tmp_path: that is private to root (0700) and Mosquitto, started as
    # root, drops to the `mosquitto` user, which must reach this directory.
    workdir = Path(tempfile.mkdtemp(prefix="cityos-iot-broker-"))
    broker = Broker(workdir)
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(workdir, ignore_errors=True)


class BridgeProcess:
    """`manage.py mqtt_bridge` as a child process logging to `log`; with `workers`, the
    supervised pool (`--workers N`: members `<client_id>-0` … on the shared subscription)."""

    def __init__(self, broker: Broker, client_id: str, log: Path, *, workers: int | None = None):
        self.broker, self.client_id, self.log, self.workers = broker, client_id, log, workers
        self.proc = None

    def start(self) -> None:
        self._subs_before = self.log.read_text().count("MQTT bridge subscribed") if self.log.exists() else 0
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="cityos.settings.test", DATABASE_URL=child_database_url())
        pool = ["--workers", str(self.workers)] if self.workers else []
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "mqtt_bridge",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.broker.port),
                    "--client-id",
                    self.client_id,
                    *pool,
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_subscribed(self, timeout: float = 30) -> None:
        """Until the bridge (every member of a pool) logs one more subscription than before this start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and self.log.read_text().count("MQTT bridge subscribed") >= self._subs_before + (
                self.workers or 1
            ):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"mqtt_bridge exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError("mqtt_bridge did not subscribe")

    def member_pids(self) -> dict[str, int]:
        """A pool's members and the pid of their latest start (from the supervisor's log)."""
        pids = {}
        for m in re.finditer(r"started member (\S+) \(pid (\d+)\)", self.log.read_text()):
            pids[m.group(1)] = int(m.group(2))
        return pids

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30 if self.workers else 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(autouse=True)
def _fresh_rule_index():
    """Each test compiles the rule index anew: Redis (and with it the rule-set version) is flushed
    between tests, and a rolled-back test never commits its version bump."""
    from datahub.services.monitoring import rules

    rules._index = None
    yield
    rules._index = None
