"""Governance figures: the intake pipeline (classify + locate + dispatch) and the inbox list over
100,000 cases (generated with COPY)."""

import io
import random
import secrets
import statistics
import time
import uuid
from datetime import timedelta

N_INBOX = 100_000
N_PIPELINE = 2000


def _pipeline(rng) -> dict:
    from datahub import facade
    from governance.demo import PLACES, TEXTS
    from governance.services.classification import case_classify_text
    from governance.services.dispatch import DispatchIndex
    from governance.services.location import case_locate

    streets = facade.area_list(level="street")
    city = facade.area_geometries(level="city", simplify=0)[0]["geometry"]["coordinates"][0][0]
    xs, ys = [p[0] for p in city], [p[1] for p in city]
    items = []
    for _ in range(N_PIPELINE):
        leaf = rng.choice(list(TEXTS))
        place = rng.choice(PLACES).format(street=rng.choice(streets).name)
        text = rng.choice(TEXTS[leaf]).format(p=place)
        point = (rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))) if rng.random() < 0.7 else None
        items.append((text, place, point))
    index = DispatchIndex()
    case_classify_text(text="预热")  # load the model once, as a running worker has it loaded
    t0 = time.perf_counter()
    dispatched = 0
    for text, place, point in items:
        cls = case_classify_text(text=text)
        loc = case_locate(lon=point[0] if point else None, lat=point[1] if point else None, address=place)
        decision = index.decide(category_id=cls.category_id, area_id=loc.area_id or loc.district_id)
        if decision["department_id"]:
            index.pick_officer(decision["department_id"])
            dispatched += 1
    elapsed = time.perf_counter() - t0
    return {
        "pipeline_cases": N_PIPELINE,
        "pipeline_cases_per_s": round(N_PIPELINE / elapsed, 1),
        "pipeline_dispatched_share": round(dispatched / N_PIPELINE, 3),
    }


def _full_intake(rng, n=200) -> dict:
    """case_create end to end (classify, locate, deadline, tracking number, rows, history, events, dispatch)."""
    from datahub import facade
    from governance.demo import PLACES, TEXTS
    from governance.services.cases import case_create
    from governance.services.dispatch import DispatchIndex

    streets = facade.area_list(level="street")
    index = DispatchIndex()
    t0 = time.perf_counter()
    for i in range(n):
        leaf = rng.choice(list(TEXTS))
        place = rng.choice(PLACES).format(street=rng.choice(streets).name)
        case_create(
            channel="api",
            title=rng.choice(TEXTS[leaf]).format(p=place),
            address=place,
            origin_ref=f"bench:{uuid.uuid4().hex}",
            dispatch_index=index,
        )
        del i
    return {"intake_with_writes_cases_per_s": round(n / (time.perf_counter() - t0), 1)}


def _generate_cases(rng, n: int) -> float:
    """COPY n cases (realistic mix of statuses, departments, categories, areas) from a prepared buffer."""
    from django.db import connection
    from django.utils import timezone

    from datahub import facade
    from governance.models import Case, Category

    cats = list(Category.objects.filter(parent__isnull=False).values_list("id", flat=True))
    depts = [d.id for d in facade.department_list()]
    streets = facade.area_list(level="street")
    statuses = ["received", "dispatched", "accepted", "in_progress", "resolved", "closed", "closed", "closed"]
    now = timezone.now()
    cols = [
        "tracking_number",
        "token",
        "channel",
        "title",
        "description",
        "classification",
        "priority",
        "status",
        "status_before_suspend",
        "status_notes",
        "address",
        "reporter_name",
        "reporter_phone",
        "reporter_email",
        "dispatch_explanation",
        "attributes",
        "media_url",
        "origin",
        "origin_ref",
        "created_at",
        "updated_at",
        "due_at",
        "suspended_seconds",
        "reopen_count",
        "rating_comment",
        "category_id",
        "department_id",
        "district_id",
        "street_id",
        "area_id",
        "citizen_key",
    ]
    buf = io.StringIO()
    start = Case.objects.count()
    for i in range(start, start + n):
        created = now - timedelta(minutes=rng.uniform(0, 60 * 24 * 365))
        street = rng.choice(streets)
        row = [
            f"BN{created:%Y%m%d}-{i:07d}",
            str(uuid.uuid4()),
            "hotline",
            f"批量工单 {i}",
            "",
            "{}",
            "normal",
            rng.choice(statuses),
            "",
            "",
            street.name,
            "",
            "",
            "",
            "{}",
            "{}",
            "",
            "bench",
            f"bulk:{i}",
            created.isoformat(),
            created.isoformat(),
            (created + timedelta(days=3)).isoformat(),
            "0",
            "0",
            "",
            str(rng.choice(cats)),
            str(rng.choice(depts)),
            str(street.parent_id),
            str(street.id),
            str(street.id),
            secrets.token_urlsafe(24),
        ]
        buf.write("\t".join(row) + "\n")
    buf.seek(0)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.connection.cursor().copy_expert(
            f"COPY governance_case ({', '.join(cols)}) FROM STDIN WITH (FORMAT text)", buf
        )
    return time.perf_counter() - t0


def _timed(client, url, params, n=60) -> list[float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(url, params, HTTP_HOST="127.0.0.1")
        samples.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.content[:200]
    samples.sort()
    return samples


def _inbox(rng) -> dict:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from governance.models import Case

    out = {}
    missing = N_INBOX - Case.objects.count()
    if missing > 0:
        secs = _generate_cases(rng, missing)
        out["copy_rows_per_s"] = round(missing / secs)
    from django.db import connection

    # Outside a transaction: VACUUM sets the visibility map so counts can be index-only, as
    # autovacuum keeps it on a live table.
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE governance_case")
    out["inbox_total_cases"] = Case.objects.count()
    User = get_user_model()
    # The database part alone (capped count + first page of open cases, newest first), to tell it
    # apart from DRF/Python time, which suffers most when the shared machine is overloaded.
    from governance.models import OPEN_STATUSES
    from governance.pagination import CappedPaginator
    from governance.selectors.cases import case_inbox

    qs = case_inbox(user=User.objects.get(username="hotline")).filter(status__in=OPEN_STATUSES)
    sql = []
    for _ in range(60):
        t = time.perf_counter()
        page = CappedPaginator(qs, 50).get_page(1)
        list(page.object_list)
        sql.append(time.perf_counter() - t)
    sql.sort()
    out["inbox_sql_open_p50_ms"] = round(statistics.median(sql) * 1000, 1)
    out["inbox_sql_open_p95_ms"] = round(sql[int(len(sql) * 0.95)] * 1000, 1)
    url = "/api/v1/governance/cases/"
    for who, username in (("dispatcher", "hotline"), ("officer", "officer")):
        client = APIClient()
        client.force_authenticate(User.objects.get(username=username))
        for label, params in (("open", {"open": "true"}), ("overdue", {"overdue": "true"}), ("all", {})):
            s = _timed(client, url, params)
            out[f"inbox_{who}_{label}_p50_ms"] = round(statistics.median(s) * 1000, 1)
            out[f"inbox_{who}_{label}_p95_ms"] = round(s[int(len(s) * 0.95)] * 1000, 1)
    return out


def run() -> dict:
    from cityos.demo import build_demo_city

    build_demo_city()
    rng = random.Random(7)
    figures = {}
    figures.update(_pipeline(rng))
    figures.update(_full_intake(rng))
    figures.update(_inbox(rng))
    figures["note"] = "2-core machine: the closing note of each run says what else was running"
    return figures
