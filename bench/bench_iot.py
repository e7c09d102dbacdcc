"""IoT figures: HTTP batch ingest vs raw COPY, MQTT bridge throughput with zero loss, hourly
series over a year from >= 10M rows, latest values of 10,000 datastreams.

Environment knobs: BENCH_IOT_HTTP_READINGS (default 1,000,000), BENCH_IOT_MQTT_MESSAGES (default
1,000,000, the issue's run), BENCH_IOT_MQTT_WORKERS (bridge pool size, 2),
BENCH_IOT_MQTT_SINGLE_MESSAGES (drained by one bridge first, 200,000; 0 skips),
BENCH_IOT_MQTT_PUBLISHERS (4), BENCH_IOT_SERIES_ROWS (default 10,500,000), BENCH_IOT_PARTS
(default "http,latest,mqtt,series").
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


# This benchmark's own devices (other benchmarks share the database: bench_monitoring's devices
# carry alert rules and are left alone).
OWN_KEYS = "^bench-(http|latest|mqtt|series)-"


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE datahub_observation, datahub_observation_rollup, datahub_observation_latest, datahub_ingestbatch"
        )
        cur.execute(
            "DELETE FROM datahub_datastream WHERE device_id IN (SELECT id FROM datahub_device WHERE key ~ %s)",
            [OWN_KEYS],
        )
        cur.execute("DELETE FROM datahub_device WHERE key ~ %s", [OWN_KEYS])
        cur.execute("DELETE FROM datahub_entityidentifier WHERE value ~ %s", [OWN_KEYS])


def _devices(prefix: str, n_devices: int, metrics_per_device: int, interval: int) -> list[int]:
    """Devices through the service, datastreams in bulk; returns datastream ids."""
    from datahub.iot.services.devices import device_register
    from datahub.models import Datastream

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
    from datahub.iot.services.partitions import observation_partitions_ensure

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
    from bench.http_ingest import free_port

    port = free_port()
    workdir.chmod(0o777)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        (ROOT / "deploy/mosquitto/cityos.conf").read_text()
        + f"\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence_location {workdir}/\n"
        + f"log_dest file {workdir}/mosquitto.log\n"
    )
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, port


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, b = n >> 7, n & 127
        out.append(b | (128 if n else 0))
        if not n:
            return bytes(out)


def _publish(port: int, keys: list[str], t0: float, per_key: int, out, window: int = 2000) -> None:
    """A QoS 1 publisher speaking MQTT 3.1.1 on a plain socket: PUBLISH packets prepared in
    blocks of 500, at most `window` unacknowledged, PUBACKs counted. paho's publish() costs
    ~30 µs a message: on this 2-core box paho publishers would measure themselves, not the bridge.
    Message j is device j % len(keys)'s reading number j // len(keys), `{"ts": t0 + that, "m0": …}`.
    """
    import select
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    client_id = f"bench-pub-{os.getpid()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    sock.sendall(b"\x10" + _varint(len(body)) + body)
    connack = b""
    while len(connack) < 4:
        connack += sock.recv(4 - len(connack))
    assert connack == b"\x20\x02\x00\x00", connack
    topics = [f"cityos/{k}/telemetry".encode() for k in keys]
    total = per_key * len(keys)
    sent = acked = rest = 0
    mid = 0
    while acked < total:
        if sent < total and sent - acked < window:
            parts = []
            for j in range(sent, sent + min(500, window - (sent - acked), total - sent)):
                k, d = divmod(j, len(keys))
                mid = mid % 65535 + 1
                payload = b'{"ts":%d,"m0":%d}' % (t0 + k, k % 100)
                topic = topics[d]
                parts.append(
                    b"\x32"
                    + _varint(4 + len(topic) + len(payload))
                    + len(topic).to_bytes(2, "big")
                    + topic
                    + mid.to_bytes(2, "big")
                    + payload
                )
            sock.sendall(b"".join(parts))
            sent += len(parts)
            if not select.select([sock], [], [], 0)[0]:
                continue
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("broker closed the connection")
        rest += len(data)  # PUBACK: 0x40 0x02 + packet id, 4 bytes
        acked += rest // 4
        rest %= 4
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    out.put(acked)


def _mqtt(n_messages: int) -> dict:
    """The issue's run: `n_messages` single-reading messages through a pool of bridges, half of
    them live (publishers and pool together; the publishers run on the same 2 cores), half
    drained (queued by the broker for the pool's sessions while it was stopped, then consumed at
    the pool's full speed: its real capacity). Before that, the drain rate of one bridge alone on
    BENCH_IOT_MQTT_SINGLE_MESSAGES more. Every acknowledged message must be stored exactly once."""
    from django.db import connection

    started_all = time.perf_counter()
    workers = int(os.environ.get("BENCH_IOT_MQTT_WORKERS", 2))
    n_single = int(os.environ.get("BENCH_IOT_MQTT_SINGLE_MESSAGES", 200_000))
    n_publishers = int(os.environ.get("BENCH_IOT_MQTT_PUBLISHERS", 4))
    n_devices = 100
    ds_ids = _devices("bench-mqtt", n_devices, 1, 1)
    keys = [f"bench-mqtt-{i}" for i in range(n_devices)]
    workdir = Path(tempfile.mkdtemp(prefix="cityos-bench-broker-"))
    broker, port = _broker(workdir)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="cityos.settings.test")
    logpath = workdir / "bridge.log"
    log = open(logpath, "w")  # noqa: SIM115
    ctx = multiprocessing.get_context("fork")

    def start(extra: list[str], subscriptions: int | None):
        before = logpath.read_text().count("MQTT bridge subscribed")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "mqtt_bridge", "--port", str(port), "--client-id", "bench-bridge", *extra],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while subscriptions and logpath.read_text().count("MQTT bridge subscribed") < before + subscriptions:
            assert time.time() < deadline and proc.poll() is None, logpath.read_text()[-3000:]
            time.sleep(0.05)
        return proc

    def stop(proc) -> None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)

    def publish(t0: float, count: int) -> tuple[int, float]:
        per_key = count // n_devices
        acks = ctx.Queue()
        groups = [keys[i::n_publishers] for i in range(n_publishers)]
        began = time.perf_counter()
        pubs = [ctx.Process(target=_publish, args=(port, g, t0, per_key, acks)) for g in groups]
        for p in pubs:
            p.start()
        acknowledged = sum(acks.get(timeout=1800) for _ in pubs)
        for p in pubs:
            p.join(timeout=60)
        return acknowledged, time.perf_counter() - began

    def stored() -> int:
        # The monitor's batch rows, not count(*) over a growing table (that would load the DB).
        with connection.cursor() as cur:
            cur.execute("SELECT coalesce(sum(stored), 0) FROM datahub_ingestbatch WHERE channel = 'mqtt'")
            return cur.fetchone()[0]

    def cpu() -> dict[str, float]:
        """CPU seconds so far of the bridge processes, their PostgreSQL backends and the broker."""
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backends = [r[0] for r in cur.fetchall()]
        bridges = [proc.pid] + [int(c) for c in _proc_children(proc.pid)]
        return {
            "bridge": sum(_proc_cpu(p) for p in bridges),
            "postgres": sum(_proc_cpu(p) for p in backends),
            "broker": _proc_cpu(broker.pid),
        }

    def drain_rate(target: int, prefix: str) -> None:
        """Messages/s from the first committed batch to the last (process start-up excluded), and
        the CPU time per message of each party over the same interval: unlike the rate, that does
        not depend on what else runs on the machine."""
        base = stored()
        first = None
        deadline = time.perf_counter() + 1800
        while (now_stored := stored()) < target:
            assert time.perf_counter() < deadline, f"{now_stored} of {target} stored"
            if first is None and now_stored > base:
                first = (time.perf_counter(), now_stored, cpu())
            time.sleep(0.05)
        if first is None:  # everything within one poll: too few messages to measure
            return
        n = target - first[1]
        figures[f"{prefix}_per_s"] = round(n / (time.perf_counter() - first[0]))
        cpu_per_message(first[2], n, prefix)

    def cpu_per_message(before: dict, n: int, prefix: str) -> None:
        for part, seconds in cpu().items():
            figures[f"{prefix}_{part}_cpu_us_per_msg"] = round((seconds - before[part]) / n * 1e6, 1)

    figures = {"mqtt_pool_workers": workers}
    acked = 0
    proc = None
    try:
        if n_single:
            proc = start([], 1)  # the single bridge's session: a plain subscription
            stop(proc)
            got, _ = publish(datetime(2026, 2, 1, tzinfo=UTC).timestamp(), n_single)
            acked += got
            proc = start([], None)
            drain_rate(acked, "mqtt_single_bridge_drain")
            stop(proc)
        pool = ["--workers", str(workers)]
        proc = start(pool, workers)  # the pool retires the single bridge's session
        live_n = n_messages // 2
        before = cpu()
        began = time.perf_counter()
        got, publish_s = publish(datetime(2026, 3, 1, tzinfo=UTC).timestamp(), live_n)
        acked += got
        while stored() < acked:
            assert time.perf_counter() - began < 1800, f"{stored()} of {acked} stored"
            time.sleep(0.05)
        live_s = time.perf_counter() - began
        figures["mqtt_live_publish_per_s"] = round(got / publish_s)
        figures["mqtt_live_stored_per_s"] = round(got / live_s)  # from the first publish to the last commit
        cpu_per_message(before, got, "mqtt_live")
        stop(proc)
        got, _ = publish(datetime(2026, 4, 1, tzinfo=UTC).timestamp(), n_messages - live_n)
        acked += got
        proc = start(pool, None)
        drain_rate(acked, "mqtt_pool_drain")
        stop(proc)
        proc = None
        time.sleep(0.5)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(DISTINCT (datastream_id, time)) FROM datahub_observation WHERE datastream_id = ANY(%s)",
                [ds_ids],
            )
            count, distinct = cur.fetchone()
            cur.execute("SELECT coalesce(sum(rejected), 0) FROM datahub_ingestbatch WHERE channel = 'mqtt'")
            rejected = cur.fetchone()[0]
        assert count == distinct and rejected == 0, (count, distinct, rejected)
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc)
        broker.terminate()
        broker.wait(timeout=60)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    figures.update(
        {
            "mqtt_messages_acknowledged": acked,
            "mqtt_messages_stored": count,
            "mqtt_lost": acked - count,
            "mqtt_wall_s": round(time.perf_counter() - started_all, 1),
        }
    )
    return figures


def _series(total_rows: int) -> dict:
    from django.db import connection

    from datahub.iot.selectors import series
    from datahub.iot.services.ingest import observation_rollups_rebuild
    from datahub.iot.services.partitions import observation_partitions_ensure

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
    from datahub.iot.selectors import latest_values
    from datahub.iot.services.ingest import observations_store

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
    figures = {"note": "2-core machine: the closing note of each run says what else was running"}
    parts = os.environ.get("BENCH_IOT_PARTS", "http,latest,mqtt,series").split(",")
    _truncate()
    http_ids = _devices("bench-http", 100, 10, 1)  # 1,000 datastreams reporting every second
    if "http" in parts:
        figures.update(_http_ingest(http_ids, int(os.environ.get("BENCH_IOT_HTTP_READINGS", 1_000_000))))
    if "latest" in parts:
        latest_ids = http_ids + _devices("bench-latest", 90, 100, 60)  # 10,000 datastreams
        figures.update(_latest(latest_ids))
    if "mqtt" in parts:
        figures.update(_mqtt(int(os.environ.get("BENCH_IOT_MQTT_MESSAGES", 1_000_000))))
    if "series" in parts:
        figures.update(_series(int(os.environ.get("BENCH_IOT_SERIES_ROWS", 10_500_000))))
    return figures
