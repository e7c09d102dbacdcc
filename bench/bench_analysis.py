"""Analysis: the daily briefing over >= 1,000,000 events and >= 10,000,000 observations, Gi* with
999 permutations over >= 100,000 events, the cockpit API's p95 and the cockpit's first paint.

Data (replaced on each run unless already there): ANALYSIS_BENCH_EVENTS events (COPY) over the 29
days before the briefing day (case intake, closures, ratings, alerts, opinion spikes, wing events)
with points in a 0.4° square, ANALYSIS_BENCH_GI_EVENTS of them in the last week; and
ANALYSIS_BENCH_OBSERVATIONS raw readings of ANALYSIS_BENCH_STREAMS datastreams over the same 29 days
in the partitioned observation table (generated inside PostgreSQL), whose rollups are then rebuilt
by the datahub's own `observation_rollups_rebuild` (the path after a bulk load; live ingest merges
the rollups as it stores). The briefing reads the rollups, as it does in production.

The cockpit's first paint is measured in Debian's Chromium (Playwright) against the web tier as
the Procfile runs it (`python -m cityos.serve`): first-contentful-paint from the performance API
over ANALYSIS_BENCH_PAINT_RUNS cold loads (a fresh browser context each: empty cache), after one
warm-up load; plus the time until the KPI tiles and the case clusters are drawn.
Set the sizes smaller on a shared machine; the figures say which sizes ran.
"""

import io
import json
import os
import random
import statistics
import time
from datetime import timedelta

EVENTS = int(os.environ.get("ANALYSIS_BENCH_EVENTS", 1_000_000))
GI_EVENTS = int(os.environ.get("ANALYSIS_BENCH_GI_EVENTS", 100_000))
OBSERVATIONS = int(os.environ.get("ANALYSIS_BENCH_OBSERVATIONS", 10_000_000))
STREAMS = int(os.environ.get("ANALYSIS_BENCH_STREAMS", 500))
PAINT_RUNS = int(os.environ.get("ANALYSIS_BENCH_PAINT_RUNS", 5))
DAYS = 29
TYPES = [
    ("case.received", 0.45),
    ("case.dispatch", 0.15),
    ("case.close", 0.15),
    ("case.rated", 0.05),
    ("case.overdue", 0.02),
    ("alert.raised", 0.05),
    ("alert.cleared", 0.04),
    ("opinion.negative_spike", 0.01),
    ("industry.risk_raised", 0.03),
    ("livelihood.booking_created", 0.05),
]
CATS = ["noise", "road", "sanitation", "water", "illegal_parking"]


def _copy(table: str, columns: list[str], buf: io.StringIO) -> None:
    from django.db import connection

    buf.seek(0)
    with connection.cursor() as cur:
        cur.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)  # noqa: S608 - constant


def _generate(day) -> dict:
    from django.db import connection

    from datahub.analysis.selectors import city_tz
    from datahub.iot.services import devices as iot_devices
    from datahub.models import Area

    rng = random.Random(16)
    tz = city_tz()
    from datetime import datetime
    from datetime import time as dtime

    end = datetime.combine(day, dtime.min, tzinfo=tz) + timedelta(days=1)
    start = end - timedelta(days=DAYS)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM datahub_event WHERE object_ref LIKE 'bench:%%'")
        cur.execute("DELETE FROM datahub_situation")
        cur.execute("DELETE FROM datahub_briefing")
    districts = []
    for i in range(4):
        x0, y0 = 120.0 + 0.2 * (i % 2), 30.0 + 0.2 * (i // 2)
        a, _ = Area.objects.get_or_create(
            code=f"BENCH-D{i}",
            defaults={
                "name": f"基准区{i}",
                "name_en": f"Bench {i}",
                "level": "district",
                "geometry": f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x0 + 0.2} {y0},{x0 + 0.2} {y0 + 0.2},{x0} {y0 + 0.2},{x0} {y0})))",
                "centroid": f"SRID=4326;POINT({x0 + 0.1} {y0 + 0.1})",
            },
        )
        districts.append(a)
    names = [t for t, _ in TYPES]
    weights = [w for _, w in TYPES]
    t0 = time.perf_counter()
    buf = io.StringIO()
    week = end - timedelta(days=7)
    span = (end - start).total_seconds()
    for i in range(EVENTS):
        t = rng.choices(names, weights)[0] if i >= GI_EVENTS else "case.received"
        at = (
            (week + timedelta(seconds=rng.uniform(0, 7 * 86400)))
            if i < GI_EVENTS
            else (start + timedelta(seconds=rng.uniform(0, span)))
        )
        # clustered points: a few dense centres plus background
        if rng.random() < 0.3:
            cx, cy = rng.choice([(120.12, 30.1), (120.31, 30.27), (120.05, 30.33)])
            x, y = rng.gauss(cx, 0.01), rng.gauss(cy, 0.01)
        else:
            x, y = rng.uniform(120.0, 120.4), rng.uniform(30.0, 30.4)
        d = districts[(1 if x >= 120.2 else 0) + (2 if y >= 30.2 else 0)]
        payload = {"category": rng.choice(CATS), "district": d.id, "department": 1 + (i % 7)}
        if t == "case.rated":
            payload["rating"] = rng.randint(1, 5)
        if t == "alert.raised":
            payload["severity"] = rng.choice(["minor", "major", "critical"])
        buf.write(
            f"{t}\t{at.isoformat()}\t{at.isoformat()}\t{d.id}\tSRID=4326;POINT({x:.6f} {y:.6f})\tbench:{i}\t{json.dumps(payload)}\n"
        )
    _copy("datahub_event", ["type", "occurred_at", "recorded_at", "area_id", "location", "object_ref", "payload"], buf)
    events_s = time.perf_counter() - t0
    # datastreams and their hourly rollups
    from datahub.models import Datastream

    have = list(
        Datastream.objects.filter(device__key__startswith="bench-aq-").order_by("id").values_list("id", flat=True)
    )
    for k in range(len(have), STREAMS):
        cred = iot_devices.device_register(
            key=f"bench-aq-{k}",
            name=f"基准站{k}",
            device_type="air_quality",
            lon=120.0 + (k % 20) * 0.02,
            lat=30.0 + (k // 20) * 0.01,
        )
        have.append(
            iot_devices.datastream_create(
                device_id=cred.device_id, metric="pm25", unit="µg/m³", valid_min=0, valid_max=1000
            ).id
        )
    ids = have[:STREAMS]
    obs = _observations(ids, start, end)
    # As autovacuum would after a bulk load: statistics, and the visibility map that lets the
    # cockpit's counts run as index-only scans of (type, occurred_at).
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE datahub_event")
        cur.execute("VACUUM ANALYZE datahub_observation_rollup")
    return {
        "events": EVENTS,
        "generate_events_s": round(events_s, 1),
        **obs,
    }


def _observations(ids: list[int], start, end) -> dict:
    """OBSERVATIONS raw readings (evenly spaced per datastream, a daily cycle, noise, one extreme
    hour on every 97th stream the day before the end), then the rollups rebuilt from them."""
    from django.db import connection, transaction

    from datahub.iot.services.ingest import observation_rollups_rebuild
    from datahub.iot.services.partitions import observation_partitions_ensure

    span = int((end - start).total_seconds())
    step = max(1, span * len(ids) // OBSERVATIONS)  # seconds between readings of one stream
    per_stream = -(-span // step)
    expected = per_stream * len(ids)
    figures = {"observations": expected, "observation_interval_s": step, "datastreams": len(ids)}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM datahub_observation WHERE datastream_id = ANY(%s) AND time >= %s AND time < %s",
            [ids, start, end],
        )
        have = cur.fetchone()[0]
    if have == expected:
        figures["observations_reused"] = True
        return figures
    observation_partitions_ensure(start=start, end=end)
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM datahub_observation WHERE datastream_id = ANY(%s)", [ids])
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cur.execute("SELECT setseed(0.16)")
        peak = end - timedelta(hours=10)
        cur.execute(
            """INSERT INTO datahub_observation (datastream_id, time, value)
               SELECT ds, %s::timestamptz + make_interval(secs => k * %s),
                      round((45 + 20 * sin(2 * pi() * (k * %s) / 86400.0 + ds) + 10 * random()
                             + CASE WHEN ds %% 97 = 0 AND %s::timestamptz + make_interval(secs => k * %s)
                                         BETWEEN %s::timestamptz AND %s::timestamptz + interval '1 hour'
                                    THEN 200 ELSE 0 END)::numeric, 2)::float
               FROM unnest(%s::bigint[]) AS ds, generate_series(0, %s - 1) AS k""",
            [start, step, step, start, step, peak, peak, ids, per_stream],
        )
    figures["generate_observations_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    figures["rollup_rows"] = observation_rollups_rebuild(datastream_ids=ids)
    figures["rollups_rebuild_s"] = round(time.perf_counter() - t0, 1)
    with connection.cursor() as cur:
        cur.execute("ANALYZE datahub_observation")
    return figures


def _first_paint(user) -> dict:
    """Cold loads of /cockpit/ in Chromium against `python -m cityos.serve` on this database."""
    import socket
    import tempfile
    from pathlib import Path

    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import sync_playwright

    from bench.http_ingest import start_web, stop_web

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"bench-analysis-web-{port}.log"
    proc = start_web(port, max(2, os.cpu_count() or 1), log)
    fcp, fp, ready, html = [], [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            try:
                for run in range(PAINT_RUNS + 1):  # run 0 warms the server up (not counted)
                    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
                    ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
                    page = ctx.new_page()
                    # The warm-up's first requests import Django in each daphne process: on a
                    # loaded shared machine that alone has taken over a minute.
                    page.set_default_timeout(60_000 if run else 240_000)
                    resp = page.goto(f"{base}/cockpit/", wait_until="load")
                    assert resp is not None and resp.status == 200, resp and resp.status
                    page.wait_for_function(
                        "performance.getEntriesByName('first-contentful-paint').length > 0"
                        " && document.querySelector('[data-kpi=cases_received]').textContent !== '–'"
                        " && window.cockpit.state.layers.cases && window.cockpit.state.layers.cases.featureCount > 0"
                    )
                    m = page.evaluate(
                        """() => ({
                          fcp: performance.getEntriesByName('first-contentful-paint')[0].startTime,
                          fp: (performance.getEntriesByName('first-paint')[0] || {}).startTime,
                          html: performance.getEntriesByType('navigation')[0].responseEnd,
                          ready: performance.now()})"""
                    )
                    ctx.close()
                    if run:
                        fcp.append(m["fcp"])
                        fp.append(m["fp"] or m["fcp"])
                        html.append(m["html"])
                        ready.append(m["ready"])
            finally:
                browser.close()
    finally:
        stop_web(proc)
    return {
        "cockpit_first_paint_runs": len(fcp),
        "cockpit_first_contentful_paint_ms": [round(x) for x in fcp],
        "cockpit_first_contentful_paint_median_ms": round(statistics.median(fcp)),
        "cockpit_first_contentful_paint_max_ms": round(max(fcp)),
        "cockpit_first_paint_median_ms": round(statistics.median(fp)),
        "cockpit_html_response_end_median_ms": round(statistics.median(html)),
        "cockpit_tiles_and_clusters_drawn_median_ms": round(statistics.median(ready)),
    }


def run() -> dict:
    from django.test import Client
    from django.utils import timezone

    from cityos.roles import Role
    from datahub.analysis.services import briefing, hotspots
    from tests.factories import make_user

    day = timezone.localdate() - timedelta(days=1)
    if os.environ.get("ANALYSIS_BENCH_REUSE"):  # measure again on the data of the previous run
        figures = {"reused_data": True}
    else:
        figures = _generate(day)
    t0 = time.perf_counter()
    b = briefing.briefing_generate(day=day)
    figures["briefing_s"] = round(time.perf_counter() - t0, 2)
    figures["briefing_cases_received"] = b.content["cases"]["received"]["value"]
    figures["briefing_sensor_extremes"] = len(b.content["sensors"])
    start, end = briefing._day_bounds(day)
    from django.db import connection

    with connection.cursor() as cur:  # what the briefing's window covers (day + 28-day baseline)
        cur.execute(
            "SELECT count(*) FROM datahub_event WHERE occurred_at >= %s AND occurred_at < %s",
            [start - timedelta(days=briefing.BASELINE_DAYS), end],
        )
        figures["briefing_window_events"] = cur.fetchone()[0]
        cur.execute(
            "SELECT coalesce(sum(count), 0) FROM datahub_observation_rollup WHERE resolution = 'hour'"
            " AND bucket >= %s AND bucket < %s",
            [start - timedelta(days=briefing.BASELINE_DAYS), end],
        )
        figures["briefing_window_observations"] = int(cur.fetchone()[0])
    t0 = time.perf_counter()
    res = hotspots.hotspots(
        event="case.received", until=end, window=timedelta(days=7), level="grid", cell_m=500, permutations=999
    )
    figures["gi_star_999_s"] = round(time.perf_counter() - t0, 2)
    figures["gi_star_events"] = res["events"]
    figures["gi_star_cells"] = res["cell_count"]
    figures["gi_star_hot_cells"] = res["summary"]["hot"]
    leader = make_user(role=Role.CITY_LEADER, username=f"bench-leader-{int(time.time())}")
    client = Client(HTTP_HOST="localhost")
    client.force_login(leader)
    calls = [
        "/api/v1/analysis/cockpit/kpis/",
        "/api/v1/analysis/cockpit/layer/?layer=cases&zoom=10",
        "/api/v1/analysis/cockpit/layer/?layer=cases&zoom=12&bbox=120.0,30.0,120.2,30.2",
        "/api/v1/analysis/cockpit/layer/?layer=alerts&zoom=11",
        "/api/v1/analysis/cockpit/layer/?layer=cases&zoom=16&bbox=120.11,30.09,120.13,30.11",
    ]
    # One untimed round first (reported on its own): the process's first requests load the URL
    # conf, the views and the API schema, and the first reads of a freshly loaded table come from
    # disk; the p95 is of a running server's calls, as bench_platform times its warm calls.
    first_round = []
    for url in calls:
        t0 = time.perf_counter()
        r = client.get(url)
        first_round.append(time.perf_counter() - t0)
        assert r.status_code == 200, (url, r.status_code)
    figures["cockpit_api_first_round_ms"] = [round(1000 * x, 1) for x in first_round]
    times = []
    for _ in range(8):
        for url in calls:
            t0 = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, (url, r.status_code)
    times.sort()
    figures["cockpit_api_calls"] = len(times)
    figures["cockpit_api_p95_ms"] = round(1000 * times[int(0.95 * (len(times) - 1))], 1)
    figures["cockpit_api_median_ms"] = round(1000 * statistics.median(times), 1)
    # Server-side aggregation: the last week's case points (>= 100,000) reach the map as clusters.
    t0 = time.perf_counter()
    r = client.get("/api/v1/analysis/cockpit/layer/?layer=cases&zoom=11&hours=168")
    figures["cockpit_week_layer_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    fc = r.json()
    figures["cockpit_week_layer_points"] = sum(f["properties"]["count"] for f in fc["features"])
    figures["cockpit_week_layer_features"] = len(fc["features"])
    figures["cockpit_week_layer_bytes"] = len(r.content)
    t0 = time.perf_counter()
    r = client.get("/cockpit/")
    figures["cockpit_page_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    if PAINT_RUNS:
        try:
            figures.update(_first_paint(leader))
        except Exception as exc:  # noqa: BLE001 - report it with the other figures, do not lose them
            figures["cockpit_first_paint_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return figures
