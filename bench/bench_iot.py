"""IoT figures: HTTP batch ingest vs raw COPY, MQTT bridge throughput with zero loss, hourly
series over a year from >= 10M rows, latest values of 10,000 datastreams.

Environment knobs: BENCH_IOT_HTTP_READINGS (default 500,000), BENCH_IOT_MQTT_MESSAGES
(default 300,000; the issue asks 1,000,000), BENCH_IOT_SERIES_ROWS (default 10,500,000).
Runs on the bench database (tables of the observation store are truncated first).
"""

import io
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE datahub_observation, datahub_observation_rollup, datahub_observation_latest, datahub_ingestbatch"
        )
        cur.execute(
            "DELETE FROM datahub_datastream WHERE device_id IN (SELECT id FROM datahub_device WHERE key LIKE 'bench-%%')"
        )
        cur.execute("DELETE FROM datahub_device WHERE key LIKE 'bench-%%'")
        cur.execute("DELETE FROM datahub_entityidentifier WHERE value LIKE 'bench-%%'")


def _devices(prefix: str, n_devices: int, metrics_per_device: int, interval: int) -> list[int]:
    """Devices through the service, datastreams in bulk; returns datastream ids."""
    from datahub.models import Datastream
    from datahub.services.iot_devices import device_register

    ids = []
    for d in range(n_devices):
        cred = device_register(
            key=f"{prefix}-{d}", name=f"{prefix} {d}", device_type="other", expected_interval_s=interval
        )
        streams = Datastream.objects.bulk_create(
            [
                Datastream(device_id=cred.device_id, metric=f"m{m}", observed_property=f"m{m}")
                for m in range(metrics_per_device)
            ]
        )
        ids += [s.id for s in streams]
    return ids


def _http_ingest(ds_ids: list[int], total: int) -> dict:
    """Real HTTP (bench/http_ingest.py): one client on one web process, then 2 clients on 2
    processes (one per core, as `cityos.serve` runs by default), beside a raw COPY of as many rows
    into the same partitioned table in the same run (the ceiling)."""
    from django.db import connection

    from bench.http_ingest import measure
    from datahub.services.iot_partitions import observation_partitions_ensure

    one = measure(ds_ids, readings=total, clients=1, workers=1, t0=datetime(2026, 1, 5, tzinfo=UTC))
    two = measure(ds_ids, readings=total, clients=2, workers=2, t0=datetime(2026, 1, 12, tzinfo=UTC))
    stored = two["stored"]
    buf = io.StringIO()
    tc = datetime(2026, 2, 2, tzinfo=UTC).timestamp()
    for k in range(stored // len(ds_ids)):
        for d in ds_ids:
            buf.write(f"{d}\t{datetime.fromtimestamp(tc + k, UTC).isoformat()}\t{k % 100}\n")
    rows = buf.getvalue().count("\n")
    observation_partitions_ensure(start=datetime.fromtimestamp(tc, UTC), end=datetime.fromtimestamp(tc + 86400, UTC))
    started = time.perf_counter()
    with connection.cursor() as cur:
        buf.seek(0)
        cur.cursor.copy_expert("COPY datahub_observation (datastream_id, time, value) FROM STDIN", buf)
    copy_rate = rows / (time.perf_counter() - started)
    return {
        "http_batch_readings": stored,
        "http_batch_size": two["batch_size"],
        "http_1_client_1_web_process_stored_per_s": one["stored_per_s"],
        "http_batch_stored_per_s": two["stored_per_s"],
        "http_batch_setup": "2 clients, 2 web processes (python -m cityos.serve), real sockets, API token",
        "http_failed_requests": one["failed_requests"] + two["failed_requests"],
        "raw_copy_rows_per_s": round(copy_rate),
        "http_vs_copy_ratio": round(two["stored_per_s"] / copy_rate, 2),
    }


def _broker(workdir: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir.chmod(0o777)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        (ROOT / "deploy/mosquitto/cityos.conf").read_text()
        + f"\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence_location {workdir}/\n"
    )
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
    time.sleep(0.5)
    return proc, port


def _publish(port: int, key: str, t0: float, count: int, out) -> None:
    import paho.mqtt.client as mqtt

    done = [0]
    c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{key}")
    c.on_publish = lambda *_a: done.__setitem__(0, done[0] + 1)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    topic = f"cityos/{key}/telemetry"
    for k in range(count):
        c.publish(topic, f'{{"ts":{t0 + k},"m0":{k % 100}}}', qos=1)
    deadline = time.time() + 600
    while done[0] < count and time.time() < deadline:
        time.sleep(0.05)
    c.loop_stop()
    c.disconnect()
    out.put(done[0])


def _mqtt(n_messages: int) -> dict:
    """Two figures: (1) live, publishers and bridge together (bounded by the Python publishers
    on this shared machine); (2) drain, the bridge alone: messages queued by the broker for its
    persistent session while it was stopped, then consumed at the bridge's full speed."""
    from django.db import connection

    ds_ids = _devices("bench-mqtt", 8, 1, 1)
    workdir = Path(tempfile.mkdtemp(prefix="cityos-bench-broker-"))
    broker, port = _broker(workdir)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="cityos.settings.test")
    log = open(workdir / "bridge.log", "w")  # noqa: SIM115
    ctx = multiprocessing.get_context("fork")
    per = n_messages // len(ds_ids)

    def start_bridge():
        before = (workdir / "bridge.log").read_text().count("subscribed")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "mqtt_bridge", "--port", str(port), "--client-id", "bench-bridge"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while (workdir / "bridge.log").read_text().count("subscribed") <= before and time.time() < deadline:
            time.sleep(0.05)
        return proc

    def publish(t0: float) -> int:
        acks = ctx.Queue()
        pubs = [ctx.Process(target=_publish, args=(port, f"bench-mqtt-{i}", t0, per, acks)) for i in range(len(ds_ids))]
        for p in pubs:
            p.start()
        acknowledged = sum(acks.get(timeout=900) for _ in pubs)
        for p in pubs:
            p.join(timeout=60)
        return acknowledged

    def stored() -> int:
        # The monitor's batch rows, not count(*) over a growing table (that would load the DB).
        with connection.cursor() as cur:
            cur.execute("SELECT coalesce(sum(stored), 0) FROM datahub_ingestbatch WHERE channel = 'mqtt'")
            return cur.fetchone()[0]

    def wait_stored(target: int, started: float) -> float:
        while stored() < target and time.perf_counter() - started < 900:
            time.sleep(0.05)
        return time.perf_counter() - started

    bridge = start_bridge()
    try:
        started = time.perf_counter()
        live_acked = publish(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
        publish_s = time.perf_counter() - started
        live_s = wait_stored(live_acked, started)
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(timeout=30)
        drain_acked = publish(datetime(2026, 4, 1, tzinfo=UTC).timestamp())  # queued for the session
        bridge = start_bridge()
        started = time.perf_counter()
        drain_s = wait_stored(live_acked + drain_acked, started)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(DISTINCT (datastream_id, time)) FROM datahub_observation WHERE datastream_id = ANY(%s)",
                [ds_ids],
            )
            count, distinct = cur.fetchone()
        assert count == distinct
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(timeout=30)
        broker.terminate()
        broker.wait(timeout=30)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    total = live_acked + drain_acked
    return {
        "mqtt_messages_acknowledged": total,
        "mqtt_messages_stored": count,
        "mqtt_lost": total - count,
        "mqtt_live_publish_per_s": round(live_acked / publish_s),
        "mqtt_live_stored_per_s": round(live_acked / live_s),
        "mqtt_bridge_drain_per_s": round(drain_acked / drain_s),
    }


def _series(total_rows: int) -> dict:
    from django.db import connection

    from datahub.selectors.iot import series
    from datahub.services.iot_ingest import observation_rollups_rebuild
    from datahub.services.iot_partitions import observation_partitions_ensure

    per_stream = 525_600  # one year of 1-minute readings
    n_streams = max(1, -(-total_rows // per_stream))
    ds_ids = _devices("bench-series", n_streams, 1, 60)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    observation_partitions_ensure(start=start, end=datetime(2026, 1, 1, tzinfo=UTC))
    t0 = int(start.timestamp())
    loaded = 0
    began = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_stage (datastream_id bigint, t bigint, value float8)")
        for d in ds_ids:
            buf = io.StringIO("".join(f"{d}\t{t0 + 60 * k}\t{(k % 1440) / 14.4}\n" for k in range(per_stream)))
            cur.execute("TRUNCATE bench_stage")
            cur.cursor.copy_expert("COPY bench_stage FROM STDIN", buf)
            cur.execute("INSERT INTO datahub_observation SELECT datastream_id, to_timestamp(t), value FROM bench_stage")
            loaded += per_stream
        cur.execute("ANALYZE datahub_observation")
    load_s = time.perf_counter() - began
    began = time.perf_counter()
    observation_rollups_rebuild(datastream_ids=[ds_ids[0]])
    rebuild_s = time.perf_counter() - began
    end = datetime(2026, 1, 1, tzinfo=UTC)
    samples = []
    for _ in range(30):
        t = time.perf_counter()
        page = series(datastream_id=ds_ids[0], start=start, end=end, resolution="hour", limit=10_000)
        samples.append(time.perf_counter() - t)
    assert len(page.points) == 8760, len(page.points)
    raw_samples = []
    with connection.cursor() as cur:
        for _ in range(3):
            t = time.perf_counter()
            cur.execute(
                "SELECT date_trunc('hour', time), avg(value) FROM datahub_observation WHERE datastream_id = %s "
                "AND time >= %s AND time < %s GROUP BY 1 ORDER BY 1",
                [ds_ids[0], start, end],
            )
            cur.fetchall()
            raw_samples.append(time.perf_counter() - t)
    return {
        "series_table_rows": loaded,
        "series_load_rows_per_s": round(loaded / load_s),
        "series_rollup_rebuild_one_stream_s": round(rebuild_s, 2),
        "series_hourly_one_year_p50_ms": round(statistics.median(samples) * 1000, 1),
        "series_hourly_one_year_max_ms": round(max(samples) * 1000, 1),
        "series_hourly_from_raw_ms": round(statistics.median(raw_samples) * 1000, 1),
    }


def _latest(ds_ids: list[int]) -> dict:
    from datahub.selectors.iot import latest_values
    from datahub.services.iot_ingest import observations_store

    now = time.time()
    observations_store(rows=[(d, now - 5, float(d % 50)) for d in ds_ids], touch_devices=False)
    samples = []
    for _ in range(20):
        t = time.perf_counter()
        vals = latest_values(datastream_ids=ds_ids)
        samples.append(time.perf_counter() - t)
    assert len(vals) == len(ds_ids)
    return {
        "latest_10k_p50_ms": round(statistics.median(samples) * 1000, 1),
        "latest_10k_max_ms": round(max(samples) * 1000, 1),
    }


def run() -> dict:
    figures = {"note": "2-core machine shared with 4 other engineers' test runs: figures are lower bounds"}
    _truncate()
    http_ids = _devices("bench-http", 100, 10, 1)  # 1,000 datastreams reporting every second
    figures.update(_http_ingest(http_ids, int(os.environ.get("BENCH_IOT_HTTP_READINGS", 500_000))))
    latest_ids = http_ids + _devices("bench-latest", 90, 100, 60)  # 10,000 datastreams
    figures.update(_latest(latest_ids))
    figures.update(_mqtt(int(os.environ.get("BENCH_IOT_MQTT_MESSAGES", 300_000))))
    figures.update(_series(int(os.environ.get("BENCH_IOT_SERIES_ROWS", 10_500_000))))
    return figures
