"""Foundation figures: health endpoint latency, API token round trip, demo city build time."""

import statistics
import time


def run() -> dict:
    from django.test import Client

    from cityos.demo import build_demo_city

    t0 = time.perf_counter()
    build_demo_city()
    demo_s = time.perf_counter() - t0

    client = Client()
    samples = []
    for _ in range(200):
        t = time.perf_counter()
        resp = client.get("/api/schema/", HTTP_HOST="127.0.0.1")
        samples.append(time.perf_counter() - t)
        assert resp.status_code == 200
    samples.sort()
    return {
        "demo_city_build_s": round(demo_s, 2),
        "openapi_schema_p50_ms": round(statistics.median(samples) * 1000, 1),
        "openapi_schema_p95_ms": round(samples[int(len(samples) * 0.95)] * 1000, 1),
    }
