"""`python -m cityos.serve`: the web tier, N daphne processes sharing one listening socket.

One daphne process runs Django's synchronous views one at a time (they share a single thread under
ASGI), so one process uses one core at most. This launcher binds the socket once and starts
`--workers` daphne processes on it (`daphne --fd`); the kernel hands each new connection to one of
them. HTTP and WebSockets both work across processes: live updates travel through the Redis
channel layer, and every in-process cache (rule index, gazetteer, datastream descriptions) is
versioned in Redis or short-lived.

Two processes per core by default: a request that waits (for PostgreSQL, Redis) leaves its core
to another process, and a short request is less often queued behind a long one in the same
process (the alert latency benchmark's p99 under load fell from ~400 to ~290 ms going from one to
two processes per core).

A worker that dies is restarted (at most once a second); SIGTERM or SIGINT stops them all.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def _spawn(fd: int, extra: list[str]) -> subprocess.Popen:
    daphne = os.path.join(os.path.dirname(sys.executable), "daphne")
    return subprocess.Popen([daphne, "--fd", str(fd), *extra, "cityos.asgi:application"], pass_fds=[fd])  # noqa: S603 - our own argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cityos.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_WORKERS", "0")) or min(8, 2 * (os.cpu_count() or 1)),
        help="daphne processes (default WEB_WORKERS, else two per core up to 8)",
    )
    parser.add_argument("--access-log", default=None, help="file for daphne's access log (default: none)")
    args, extra = parser.parse_known_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.access_log:
        extra += ["--access-log", args.access_log]

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    fd = sock.fileno()

    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [_spawn(fd, extra) for _ in range(args.workers)]
    print(
        f"cityos.serve: {args.workers} daphne worker(s) on http://{args.host}:{args.port}/ "
        f"(pids {' '.join(str(w.pid) for w in workers)})",
        flush=True,
    )
    last_restart = 0.0
    while not stopping:
        time.sleep(0.2)
        for i, w in enumerate(workers):
            if w.poll() is not None and not stopping:
                wait = 1.0 - (time.monotonic() - last_restart)
                if wait > 0:
                    time.sleep(wait)
                print(f"cityos.serve: worker {w.pid} exited ({w.returncode}); restarting", flush=True)
                workers[i] = _spawn(fd, extra)
                last_restart = time.monotonic()
    for w in workers:
        if w.poll() is None:
            w.terminate()
    deadline = time.monotonic() + 10
    for w in workers:
        try:
            w.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.kill()
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
