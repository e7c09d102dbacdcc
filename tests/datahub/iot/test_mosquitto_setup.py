"""scripts/mosquitto_setup.sh (what bootstrap runs for the system broker) on a private copy of
/etc/mosquitto and a broker started from it: it turns on device authentication, idempotently."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.test import override_settings

from cityos.settings.base import _mqtt_credentials_file
from datahub.iot.services.broker import broker_reconcile
from tests.datahub.conftest import _wait_port, mqtt_login
from tests.datahub.iot.factories import make_device
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[3]


def run_setup(etc: Path, port: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, CITYOS_MOSQUITTO_ETC=str(etc), MQTT_PORT=str(port))
    return subprocess.run(
        ["bash", "scripts/mosquitto_setup.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def refused(port: int, username, password) -> bool:
    try:
        c = mqtt_login(port, username, password)
    except PermissionError:
        return True
    c.disconnect()
    c.loop_stop()
    return False


@pytest.fixture
def private_etc():
    """A Debian-like mosquitto.conf (anonymous, include_dir conf.d) and its broker, running."""
    etc = Path(tempfile.mkdtemp(prefix="cityos-etc-mosquitto-"))
    etc.chmod(0o777)
    (etc / "conf.d").mkdir()
    (etc / "lib").mkdir()
    port = free_port()
    (etc / "mosquitto.conf").write_text(
        f"pid_file {etc}/mosquitto.pid\npersistence true\npersistence_location {etc}/lib/\n"
        f"log_dest file {etc}/mosquitto.log\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        f"include_dir {etc}/conf.d\n"
    )
    subprocess.run(["mosquitto", "-d", "-c", str(etc / "mosquitto.conf")], check=True, capture_output=True)
    _wait_port(port)
    try:
        yield etc, port
    finally:
        # The broker the script restarted (daemonised from this private configuration).
        pid_file = etc / "mosquitto.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
                time.sleep(0.3)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(etc, ignore_errors=True)


@pytest.mark.django_db(transaction=True)
def test_it_turns_on_device_authentication_on_a_running_broker_and_changes_nothing_the_second_time(private_etc):
    etc, port = private_etc
    assert not refused(port, None, None)  # today's broker: anyone may publish
    first = run_setup(etc, port)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "creating" in first.stdout and "restarting Mosquitto" in first.stdout
    _wait_port(port)
    creds = _mqtt_credentials_file(str(etc / "cityos-credentials.env"))
    assert (etc / "cityos-credentials.env").stat().st_mode & 0o777 == 0o600
    assert refused(port, None, None)
    assert refused(port, creds["MQTT_USERNAME"], "wrong")
    assert not refused(port, creds["MQTT_USERNAME"], creds["MQTT_PASSWORD"])
    assert not refused(port, creds["MQTT_HEALTH_USERNAME"], creds["MQTT_HEALTH_PASSWORD"])
    # CityOS manages it with those credentials: devices are pushed, the reconcile finds it whole.
    with override_settings(MQTT_PORT=port, **creds):
        device, _s, secret = make_device(key=f"setup-{uuid.uuid4().hex[:6]}")
        assert not refused(port, device.key, secret)
        report = broker_reconcile()
    assert report.errors == {} and report.service_clients == [] and report.created == []

    pid = (etc / "mosquitto.pid").read_text()
    again = run_setup(etc, port)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout == ""  # nothing installed, nothing restarted
    assert (etc / "mosquitto.pid").read_text() == pid
    assert _mqtt_credentials_file(str(etc / "cityos-credentials.env")) == creds
    assert not refused(port, device.key, secret)
