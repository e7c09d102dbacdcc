"""Reliability of ingest as a whole: MQTT readings and a historical series import in a real Celery
worker at the same time; the bridge and the worker are SIGKILLed in the middle, Mosquitto is
restarted, both come back. Every reading the broker acknowledged and every value of the file is
stored exactly once, rollups agree with the raw readings, and the import finishes "succeeded"
(resumed from its checkpoint by the restarted worker: datahub.iot.services.series_imports)."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from datahub.iot.services import series_imports as svc
from datahub.models import Run, SeriesImport
from tests.datahub.conftest import BridgeProcess, mqtt_login
from tests.datahub.iot.factories import make_device
from tests.factories import make_department, make_user
from tests.helpers import child_database_url, process_kill, process_stop, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

ROOT = Path(__file__).resolve().parents[3]
MQTT_T0 = datetime(2026, 2, 1, tzinfo=UTC).timestamp()
FILE_T0 = datetime(2025, 1, 1, tzinfo=UTC)
FILE_ROWS = 60_000  # x 2 value columns = 120,000 readings, in chunks of 2,000: ~60 checkpoints
STALE_S = 3  # the test worker's DATAHUB_RUN_STALE_S: a dead worker's run is resumed after ~3 s


class WorkerProcess:
    """A Celery worker of this test alone (its own queue): the shared session worker is never killed."""

    def __init__(self, log: Path):
        self.queue = f"cityos-rel-{uuid.uuid4().hex[:8]}"
        self.name = f"{self.queue}@{os.uname().nodename}"
        self.log = log
        self.proc = None

    def start(self) -> None:
        from cityos.celery import app

        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="cityos.settings.test",
            DATABASE_URL=child_database_url(),
            CELERY_QUEUE=self.queue,
            DATAHUB_RUN_STALE_S=str(STALE_S),
            DATAHUB_IMPORT_CHUNK="2000",
        )
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "cityos", "worker", "--pool=solo", "-Q", self.queue,
                 "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", self.name],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        raise RuntimeError("the test worker did not answer a ping within 60 s")

    def kill(self) -> None:
        process_kill(self.proc)

    def stop(self) -> None:
        process_stop(self.proc)


@pytest.fixture
def worker(tmp_path, settings):
    from cityos.celery import app

    w = WorkerProcess(tmp_path / "worker.log")
    w.start()
    app.conf.task_default_queue = w.queue  # the import this test confirms goes to this worker
    try:
        yield w
    finally:
        app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
        w.stop()


def publisher(port: int, key: str, secret: str) -> mqtt.Client:
    """A device's connection, logged in with its key and secret."""
    return mqtt_login(port, key, secret, client_id=f"rel-pub-{uuid.uuid4().hex[:8]}")


class SteadyPublisher(threading.Thread):
    """Publishes readings ts = MQTT_T0 + i, v = i at ~2,000/s until stopped, so the bridge is
    always in the middle of something when it is killed."""

    def __init__(self, client: mqtt.Client, topic: str):
        super().__init__(daemon=True)
        self.client, self.topic = client, topic
        self.infos: list = []
        self.stopped = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stopped.is_set():
            for _ in range(100):
                self.infos.append(self.client.publish(self.topic, json.dumps({"ts": MQTT_T0 + i, "v": i}), qos=1))
                i += 1
            time.sleep(0.05)

    def stop(self) -> int:
        self.stopped.set()
        self.join(timeout=10)
        return len(self.infos)




def stored(ds_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE datastream_id = %s", [ds_id])
        return cur.fetchone()[0]


def series_facts(ds_id: int) -> tuple[int, int, float, int, int]:
    """(readings, distinct times, sum of values, hour-rollup count, day-rollup count)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT time), coalesce(sum(value), 0) FROM datahub_observation "
            "WHERE datastream_id = %s",
            [ds_id],
        )
        n, distinct, total = cur.fetchone()
        cur.execute(
            "SELECT coalesce(sum(count) FILTER (WHERE resolution = 'hour'), 0), "
            "coalesce(sum(count) FILTER (WHERE resolution = 'day'), 0) "
            "FROM datahub_observation_rollup WHERE datastream_id = %s",
            [ds_id],
        )
        hour, day = cur.fetchone()
    return n, distinct, total, hour, day


def checkpoint_row(imp: SeriesImport) -> int:
    run = Run.objects.get(id=SeriesImport.objects.get(id=imp.id).run_id)
    return int((run.checkpoint or {}).get("row", 0))


def test_every_acknowledged_reading_and_every_file_row_is_stored_once_through_sigkills_and_a_broker_restart(
    mqtt_broker, worker, tmp_path
):
    officer = make_user(role="department_officer", department=make_department())
    _live, live_streams, live_secret = make_device(
        key=f"rel-live-{uuid.uuid4().hex[:6]}", metrics=(("v", "", None, None),)
    )
    live = live_streams["v"].id
    _hist, hist_streams, _ = make_device(
        key="rel-hist",
        metrics=(("pm25", "", None, None), ("no2", "", None, None)),
        owner_department_id=officer.department_id,
    )
    pm25, no2 = hist_streams["pm25"].id, hist_streams["no2"].id
    lines = ["time,station,PM2.5,NO2"]
    for i in range(FILE_ROWS):
        t = (FILE_T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"{t},rel-hist,{i},{2 * i}")
    upload = SimpleUploadedFile("history.csv", ("\n".join(lines) + "\n").encode())

    bridge = BridgeProcess(mqtt_broker, f"rel-bridge-{uuid.uuid4().hex[:6]}", tmp_path / "bridge.log")
    bridge.start()
    bridge.wait_subscribed()
    topic = f"cityos/{_live.key}/telemetry"
    n2 = 3_000
    try:
        pub = publisher(mqtt_broker.port, _live.key, live_secret)
        stream = SteadyPublisher(pub, topic)
        stream.start()
        wait_until(lambda: stored(live) > 500, 60, "the first MQTT batches")
        imp = svc.series_import_preview(upload=upload, user=officer)
        mapping = {
            "layout": "long",
            "time_column": "time",
            "tz": "UTC",
            "device_column": "station",
            "value_columns": {"PM2.5": "pm25", "NO2": "no2"},
        }
        svc.series_import_confirm(imp=imp, mapping=mapping, user=officer)  # autocommit: queued at once
        # Both ingest paths are busy: import chunks committed and more coming, MQTT readings streaming in.
        wait_until(lambda: checkpoint_row(imp) >= 4_000, 120, "the import under way")
        bridge.kill()
        worker.kill()
        killed_row = checkpoint_row(imp)
        assert SeriesImport.objects.get(id=imp.id).status == "running"
        assert killed_row < FILE_ROWS  # killed in the middle of the file
        time.sleep(0.3)  # readings go on arriving at the broker while the bridge is dead
        n1 = stream.stop()
        infos = stream.infos
        for info in infos:
            info.wait_for_publish(60)  # every message acknowledged by the broker (queued for the bridge's session)
        assert all(i.is_published() for i in infos)
        assert stored(live) < n1  # the bridge died with acknowledged readings still to store
        mqtt_broker.stop()  # graceful: Mosquitto writes the bridge's persistent session to disk
        mqtt_broker.start()
        pub.loop_stop()

        bridge.start()
        worker.start()  # on start it queues recovery: the run's heartbeat turns stale, it resumes
        bridge.wait_subscribed()
        pub = publisher(mqtt_broker.port, _live.key, live_secret)
        infos = [pub.publish(topic, json.dumps({"ts": MQTT_T0 + n1 + i, "v": n1 + i}), qos=1) for i in range(n2)]
        for info in infos:
            info.wait_for_publish(60)

        def import_done() -> bool:
            return SeriesImport.objects.get(id=imp.id).status in svc.TERMINAL

        wait_until(import_done, 240, "the resumed import to finish")
        wait_until(lambda: stored(live) >= n1 + n2, 120, f"{n1 + n2} MQTT readings stored")
        time.sleep(0.5)  # anything redelivered late must still not be stored twice
        pub.loop_stop()
    finally:
        bridge.stop()

    imp = SeriesImport.objects.select_related("run").get(id=imp.id)
    run = imp.run
    assert imp.status == "succeeded" and run.status == "succeeded", (imp.message, run.errors)
    assert imp.attempt >= 2  # the restarted worker resumed it (from its checkpoint, not from row 1)
    assert (run.rows_read, run.rows_stored, run.rows_rejected, run.progress) == (2 * FILE_ROWS, 2 * FILE_ROWS, 0, 1.0)

    n = n1 + n2
    assert series_facts(live) == (n, n, n * (n - 1) / 2, n, n)
    total = FILE_ROWS * (FILE_ROWS - 1) / 2
    assert series_facts(pm25) == (FILE_ROWS, FILE_ROWS, total, FILE_ROWS, FILE_ROWS)
    assert series_facts(no2) == (FILE_ROWS, FILE_ROWS, 2 * total, FILE_ROWS, FILE_ROWS)
    with connection.cursor() as cur:
        # exactly once per (datastream, time), and every file reading carries the import's run
        cur.execute(
            "SELECT count(*) FROM (SELECT 1 FROM datahub_observation WHERE datastream_id = ANY(%s) "
            "GROUP BY datastream_id, time HAVING count(*) > 1) d",
            [[live, pm25, no2]],
        )
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM datahub_observation WHERE run_id = %s", [run.id])
        assert cur.fetchone()[0] == 2 * FILE_ROWS
