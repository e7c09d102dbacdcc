"""Real HTTP batch ingest, measured the way a deployment runs it.

The web tier as the Procfile starts it (`python -m cityos.serve`: N daphne processes sharing one
socket, `cityos.settings.local` with DEBUG off) on the bench database, and C client processes
POSTing JSON batches to `/api/v1/datahub/observations/ingest/` with an API token over real
sockets. Each client owns a disjoint share of the datastreams (as gateways own their devices) and
sends its bodies back to back (readings one second apart per datastream, a slow wave of values
so alert rules stay mostly quiet, as a city's sensors do); the figure is readings the API answered as stored per second of
wall time, from the first request of the measured window to the last response.
"""

import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL_PATH = "/api/v1/datahub/observations/ingest/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(port: int, workers: int, log_path: Path) -> subprocess.Popen:
    """`python -m cityos.serve` on the bench database (DATABASE_URL) and this process's Redis."""
    from django.conf import settings

    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="cityos.settings.local",
        DEBUG="0",  # the demo's settings without DEBUG's per-query bookkeeping
        REDIS_URL=settings.REDIS_URL,  # same rule states, rule-set version and channel layer as here
        PYTHONUNBUFFERED="1",
    )
    log = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "cityos.serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"web tier exited: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"web tier did not listen on {port}: {log_path.read_text()[-2000:]}")


def stop_web(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def api_token(username: str = "bench-ingest") -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from cityos.roles import Role

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"role": Role.ADMINISTRATOR})
    return Token.objects.get_or_create(user=user)[0].key


def _client(url: str, token: str, bodies_args: tuple, barrier, out) -> None:
    import httpx

    ds_ids, per_batch, n_batches, t0 = bodies_args
    per_stream = max(1, per_batch // len(ds_ids))
    bodies = [
        json.dumps(
            [
                {"datastream": d, "time": t, "value": round(60 + 30 * math.sin(t / 3600 + d), 2)}
                for k in range(per_stream)
                for d in ds_ids
                for t in (t0 + b * per_stream + k,)
            ]
        ).encode()
        for b in range(n_batches + 1)
    ]
    # One connection per request: with keep-alive, each client's connection would stay with the
    # web process that accepted it, and two clients land on the same process half the time. A
    # city's thousands of gateways spread over the processes; per-request connections let the
    # kernel spread these two clients' requests the same way.
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Connection": "close"}
    stored, failed = 0, 0
    with httpx.Client(timeout=300) as client:
        client.post(url, content=bodies[0], headers=headers).raise_for_status()  # warm-up, not measured
        barrier.wait()
        started = time.perf_counter()
        for body in bodies[1:]:
            resp = client.post(url, content=body, headers=headers)
            if resp.status_code == 200:
                stored += resp.json()["stored"]
            else:
                failed += 1
        out.put((stored, failed, started, time.perf_counter()))


def _evaluated() -> int:
    from datahub.monitoring.services.observations import evaluated_key
    from datahub.monitoring.services.rules import redis_client

    return int(redis_client().get(evaluated_key()) or 0)


def measure(
    ds_ids: list[int],
    *,
    readings: int,
    clients: int,
    workers: int,
    per_batch: int = 50_000,
    t0: datetime | None = None,
    until_evaluated: bool = False,
) -> dict:
    """Ingest `readings` (plus one warm-up batch per client) through the real web tier.

    `until_evaluated`: the web processes evaluate rules in a background thread; the clock then
    stops only when every stored reading has also been evaluated (the monitoring engine's
    counter of evaluated readings has caught up), so the figure includes evaluation.
    """
    t0 = (t0 or datetime(2026, 1, 5, tzinfo=UTC)).timestamp()
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cityos-bench-http-"))
    token = api_token()
    web = start_web(port, workers, workdir / "web.log")
    ctx = multiprocessing.get_context("spawn")
    out, barrier = ctx.Queue(), ctx.Barrier(clients)
    n_batches = max(1, readings // per_batch // clients)
    shares = [ds_ids[i::clients] for i in range(clients)]
    procs = [
        ctx.Process(
            target=_client,
            args=(f"http://127.0.0.1:{port}{URL_PATH}", token, (share, per_batch, n_batches, t0), barrier, out),
        )
        for share in shares
    ]
    evaluated_before = _evaluated() if until_evaluated else 0
    try:
        for p in procs:
            p.start()
        results = [out.get(timeout=900) for _ in procs]
        for p in procs:
            p.join(30)
        stored = sum(r[0] for r in results)
        end = max(r[3] for r in results)
        if until_evaluated:
            # Warm-up batches (one per client, stored before the clock) are evaluated too.
            target = evaluated_before + stored + clients * per_batch
            deadline = time.perf_counter() + 300
            while _evaluated() < target and time.perf_counter() < deadline:
                time.sleep(0.01)
            end = max(end, time.perf_counter())
    finally:
        stop_web(web)
    failed = sum(r[1] for r in results)
    elapsed = end - min(r[2] for r in results)
    log_tail = (workdir / "web.log").read_text()[-1500:]
    if failed or "Traceback" in log_tail:
        print(f"   web log (tail):\n{log_tail}")
    return {
        "stored": stored,
        "failed_requests": failed,
        "batch_size": per_batch,
        "clients": clients,
        "web_workers": workers,
        "stored_per_s": round(stored / elapsed),
    }
