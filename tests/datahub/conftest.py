import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.utils import translation

from tests.helpers import child_database_url, free_port, process_kill, process_stop


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
    """A private Mosquitto with the production settings (deploy/mosquitto/cityos.conf) and device
    authentication: the dynamic-security plugin, anonymous access off, an administrator, the
    bridge's and the health check's clients. While a test runs, the Django settings point at it
    (MQTT_PORT and the credentials), so device services push their changes to this broker."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        # Run as root, Mosquitto drops to the `mosquitto` user: it must be able to write its
        # persistence file here, or sessions would not survive the restart under test.
        workdir.chmod(0o777)
        token = uuid.uuid4().hex
        self.admin = ("cityos-admin", f"admin-{token}")
        self.bridge = ("cityos-bridge", f"bridge-{token}")
        self.health = ("cityos-health", f"health-{token}")
        self.dynsec = workdir / "dynamic-security.json"
        ctrl = shutil.which("mosquitto_ctrl") or "/usr/bin/mosquitto_ctrl"
        subprocess.run([ctrl, "dynsec", "init", str(self.dynsec), *self.admin], check=True, stdout=subprocess.DEVNULL)
        self.dynsec.chmod(0o666)  # the broker (user mosquitto) rewrites it on every change
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            BROKER_CONF.read_text()
            + f"\nlistener {self.port} 127.0.0.1\nallow_anonymous false\npersistence_location {workdir}/\n"
            + f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {self.dynsec}\n"
            + f"log_dest file {workdir}/mosquitto.log\n"
        )
        self.conf = conf
        self.proc = None

    def settings(self) -> dict:
        return {
            "MQTT_HOST": "127.0.0.1",
            "MQTT_PORT": self.port,
            "MQTT_ADMIN_USERNAME": self.admin[0],
            "MQTT_ADMIN_PASSWORD": self.admin[1],
            "MQTT_USERNAME": self.bridge[0],
            "MQTT_PASSWORD": self.bridge[1],
            "MQTT_HEALTH_USERNAME": self.health[0],
            "MQTT_HEALTH_PASSWORD": self.health[1],
        }

    def env(self) -> dict:
        """For child processes (bridge, simulator): the same broker and credentials."""
        return {k: str(v) for k, v in self.settings().items()}

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def stop(self) -> None:
        """Graceful stop (SIGTERM): Mosquitto writes its persistent sessions to disk."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)


DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def mqtt_login(port: int, username: str | None, password: str | None, *, client_id: str | None = None, **kw):
    """A connected paho client (MQTT 3.1.1 unless `protocol` is given); raises PermissionError
    with the broker's reason when the login is refused."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
        **kw,
    )
    if username is not None:
        c.username_pw_set(username, password)
    seen = {}
    c.on_connect = lambda _c, _u, _f, rc, _p: seen.setdefault("rc", rc)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    deadline = time.monotonic() + 10
    while "rc" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    if "rc" not in seen or seen["rc"].is_failure:
        c.loop_stop()
        raise PermissionError(f"MQTT login as {username!r} refused: {seen.get('rc', 'no CONNACK')}")
    return c


@pytest.fixture
def mqtt_broker():
    from django.test import override_settings

    from datahub.iot.services.broker import service_clients_ensure

    # Not under pytest's tmp_path: that is private to root (0700) and Mosquitto, started as
    # root, drops to the `mosquitto` user, which must reach this directory.
    workdir = Path(tempfile.mkdtemp(prefix="cityos-iot-broker-"))
    broker = Broker(workdir)
    broker.start()
    try:
        with override_settings(**broker.settings()):
            service_clients_ensure()
            yield broker
    finally:
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
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="cityos.settings.test",
            DATABASE_URL=child_database_url(),
            **self.broker.env(),
        )
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

    def wait_subscribed(self, timeout: float = 90) -> None:
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
        process_kill(self.proc)

    def stop(self) -> None:
        process_stop(self.proc, timeout=30 if self.workers else 15)


@pytest.fixture(autouse=True)
def _fresh_rule_index():
    """Each test compiles the rule index anew: Redis (and with it the rule-set version) is flushed
    between tests, and a rolled-back test never commits its version bump."""
    from datahub.monitoring.services import rules

    rules._index = None
    yield
    rules._index = None
