"""Hotspots: our vectorised Gi* equals esda's G_Local on the same weights (statistic, moments and
permutation p-values for the same seed); real data through the datahub's event import: Little Rock
violent crime (grid cells) and the NYC 311 sample (neighbourhood polygons)."""

import csv
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.contrib.gis.geos import Point

from cityos.roles import Role
from datahub.analysis.services import event_import, hotspots
from datahub.core.services.areas import AreaMapping, area_import_geojson
from datahub.models import Area, Event
from tests.factories import make_user

from .factories import city_dt

pytestmark = pytest.mark.django_db
URL = "/api/v1/analysis/hotspots/"


def _esda(y, w_sparse, permutations, seed):
    from esda.getisord import G_Local
    from libpysal.weights import WSP

    w = WSP(w_sparse).to_W(silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return G_Local(y, w, transform="B", star=True, permutations=permutations, seed=seed, n_jobs=1)


@pytest.mark.parametrize("shape", [(12, 9), (30, 20)])
def test_our_gi_star_equals_esda_on_the_same_grid_weights(shape):
    rng = np.random.default_rng(shape[0])
    nx, ny = shape
    lon = rng.uniform(0, 0.1, 4000)
    lat = rng.uniform(0, 0.05, 4000)
    cells = hotspots._grid_cells(lon, lat, 500.0)
    y = rng.poisson(3, len(cells.ids)).astype(float)
    y[:15] += 12  # a cluster in one corner
    ours = hotspots.gi_star(y, cells.neighbours, permutations=199, seed=42)
    ref = _esda(y, cells.neighbours, 199, 42)
    np.testing.assert_allclose(ours["G"], ref.Gs, rtol=1e-12)
    np.testing.assert_allclose(ours["EG"], ref.EGs, rtol=1e-12)
    np.testing.assert_allclose(ours["VG"], ref.VGs, rtol=1e-12)
    np.testing.assert_allclose(ours["z"], ref.Zs, rtol=1e-10)
    # esda stores p_sim as float32: compare the permutation counts behind them, exactly
    np.testing.assert_array_equal(np.rint(ours["p_sim"] * 200), np.rint(ref.p_sim.astype(float) * 200))
    assert (ours["p_sim"] < 0.05).sum() > 10


def test_our_gi_star_equals_esda_on_irregular_polygon_weights():
    # irregular contiguity (varying cardinalities, one island), like districts
    rng = np.random.default_rng(3)
    n = 60
    from scipy import sparse

    pairs = {(i, j) for i in range(n - 1) for j in range(i + 1, n) if rng.random() < 0.07 and i != 17 and j != 17}
    i = [a for a, b in pairs] + [b for a, b in pairs]
    j = [b for a, b in pairs] + [a for a, b in pairs]
    w = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    y = rng.poisson(5, n).astype(float)
    ours = hotspots.gi_star(y, w, permutations=99, seed=7)
    ref = _esda(y, w, 99, 7)
    np.testing.assert_allclose(ours["z"], ref.Zs, rtol=1e-10)
    np.testing.assert_array_equal(np.rint(ours["p_sim"] * 100), np.rint(ref.p_sim.astype(float) * 100))


def test_our_gi_star_equals_esda_when_the_sites_are_counted_in_many_blocks(monkeypatch):
    # The permutation counts are cumulated over sites block by block (a carry between blocks);
    # blocks of 7 sites make every block boundary, and the corner/edge shortcut, matter.
    monkeypatch.setattr(hotspots, "BLOCK_VALUES", 7 * 199)
    rng = np.random.default_rng(5)
    cells = hotspots._grid_cells(rng.uniform(0, 0.1, 3000), rng.uniform(0, 0.06, 3000), 500.0)
    y = rng.poisson(2, len(cells.ids)).astype(float)
    y[40:60] += 9
    ours = hotspots.gi_star(y, cells.neighbours, permutations=199, seed=11)
    ref = _esda(y, cells.neighbours, 199, 11)
    np.testing.assert_array_equal(np.rint(ours["p_sim"] * 200), np.rint(ref.p_sim.astype(float) * 200))


@pytest.mark.parametrize(
    "y",
    [
        np.zeros(6),  # no events in the window
        np.full(6, 4.0),  # every cell alike
    ],
)
def test_gi_star_without_any_contrast_says_no_cell_is_hot_or_cold_without_warnings(y):
    from scipy import sparse

    w = sparse.csr_matrix(np.eye(6, k=1) + np.eye(6, k=-1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # formerly "invalid value encountered in divide"
        out = hotspots.gi_star(y, w, permutations=99)
    assert np.all(out["z"] == 0) and np.all(out["p_norm"] == 1) and np.all(out["p_sim"] == 1)
    assert not (hotspots.classify(out["z"], hotspots.fdr_qvalues(out["p_sim"]), 0.05) != "").any()


def test_gi_star_of_a_single_area_is_not_a_hotspot_without_warnings():
    from scipy import sparse

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # n - 1 = 0 divided the variance by zero
        out = hotspots.gi_star(np.array([12.0]), sparse.csr_matrix((1, 1)), permutations=99)
    assert out["z"].tolist() == [0.0] and out["p_sim"].tolist() == [1.0] and out["G"].tolist() == [1.0]


def test_a_site_neighbouring_every_other_is_neither_hot_nor_cold_without_warnings():
    # Four districts that all touch (the bench's city): each one's Gi* covers the whole area.
    from scipy import sparse

    w = sparse.csr_matrix(np.ones((4, 4)) - np.eye(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = hotspots.gi_star(np.array([30.0, 2.0, 5.0, 1.0]), w, permutations=99)
    assert out["z"].tolist() == [0.0] * 4 and out["p_sim"].tolist() == [1.0] * 4 and out["p_norm"].tolist() == [1.0] * 4


def test_fdr_qvalues_are_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    q = hotspots.fdr_qvalues(p)
    # sorted p: .005 .01 .03 .04 .5 -> p*n/rank: .025 .025 .05 .05 .5 (running min from the top)
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.5])


@pytest.mark.parametrize(
    ("hot", "z", "expected"),
    [
        ([False, False, False, True], [0, 0.5, 0.2, 4], "new"),
        ([False, True, True, True], [1, 2.5, 3, 4], "intensifying"),
        ([True, True, True, True], [3, 3.2, 2.9, 3.1], "persistent"),
        ([True, True, False, False], [4, 3, 1, 0.5], "diminishing"),
        ([True, False, True, False], [3, 0, 3, 0], "sporadic"),
        ([False, False, False, False], [0, 0, 0, 0], ""),
    ],
)
def test_emerging_classes(hot, z, expected):
    assert hotspots.emerging_class(hot, z) == expected


def _little_rock_expected(path):
    """An independent reading of the file: rows, rows with a parseable date, rows with coordinates."""
    rows = dated = located = 0
    pts = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for rec in csv.DictReader(fh):
            rows += 1
            try:
                at = datetime.strptime(rec["Date"].strip(), "%m/%d/%y %H:%M")  # noqa: DTZ007
            except ValueError:
                continue
            dated += 1
            try:
                lon, lat = float(rec["Longitude"]), float(rec["Latitude"])
            except ValueError:
                continue
            if lon and lat:
                located += 1
                pts.append((lon, lat, at))
    return rows, dated, located, pts


@pytest.fixture
def little_rock(data_dir):
    path = data_dir / "little_rock_city_open_data" / "vcrime2017_2020.csv"
    run = event_import.events_import_csv(path=path, mapping=event_import.LITTLE_ROCK_CRIME, source_code="lr-vcrime")
    return path, run


def test_it_imports_little_rock_violent_crime_into_the_event_log_once(little_rock):
    path, run = little_rock
    rows, dated, located, _ = _little_rock_expected(path)
    assert rows == 20_375
    assert (run.rows_read, run.rows_stored, run.rows_rejected) == (rows, dated, rows - dated)
    assert Event.objects.filter(type="incident.violent_crime", location__isnull=False).count() == located
    again = event_import.events_import_csv(path=path, mapping=event_import.LITTLE_ROCK_CRIME, source_code="lr-vcrime")
    assert again.rows_stored == 0
    assert Event.objects.filter(type="incident.violent_crime").count() == dated
    # times are Little Rock local time: 5/31/20 7:28 CDT is 12:28 UTC
    first = Event.objects.filter(object_ref="lr-vcrime:2").get()
    assert first.occurred_at == datetime(2020, 5, 31, 12, 28, tzinfo=ZoneInfo("UTC"))
    assert first.payload["category"] == "RAPE"


def test_gi_star_finds_little_rock_hotspots_where_the_incidents_concentrate(little_rock):
    path, _ = little_rock
    _, _, _, pts = _little_rock_expected(path)
    until = datetime(2020, 1, 1, tzinfo=ZoneInfo("America/Chicago"))
    res = hotspots.hotspots(
        event="incident.violent_crime",
        until=until,
        window=timedelta(days=365),
        level="grid",
        cell_m=1000,
        permutations=199,
    )
    in_2019 = [(lo, la) for lo, la, at in pts if at.year == 2019 and -93 < lo < -92 and 34 < la < 35.2]
    assert res["cells"] == "grid"
    # The counts per cell add up to the located 2019 incidents (the grid covers their extent; a few
    # outliers far outside Little Rock are excluded by the bounding box filter above).
    assert res["events"] >= len(in_2019)
    hot = [f for f in res["features"] if f["properties"]["class"] == "hot"]
    assert 5 < len(hot) < res["cell_count"] / 4
    # Gi* is about neighbourhoods: every hot cell's 3x3 block holds far more incidents than the
    # average block (recomputed here from the features), and the busiest cell is hot.
    counts = {tuple(f["properties"]["cell"]): f["properties"]["count"] for f in res["features"]}

    def block(c):
        return sum(counts.get((c[0] + dx, c[1] + dy), 0) for dx in (-1, 0, 1) for dy in (-1, 0, 1))

    mean_block = 9 * res["events"] / res["cell_count"]
    assert all(block(tuple(f["properties"]["cell"])) > 2 * mean_block for f in hot)
    busiest = max(res["features"], key=lambda f: f["properties"]["count"])
    assert busiest["properties"]["class"] == "hot" and busiest["properties"]["q"] <= 0.05


def test_dbscan_clusters_little_rock_incidents(little_rock):
    lon, lat, _ = hotspots.event_points(
        event="incident.violent_crime",
        since=datetime(2019, 1, 1, tzinfo=ZoneInfo("UTC")),
        until=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")),
    )
    res = hotspots.clusters(lon=lon, lat=lat, eps_m=250, min_samples=25)
    assert res["points"] == len(lon) > 4000
    assert len(res["clusters"]) >= 3
    assert sum(c["count"] for c in res["clusters"]) + res["noise"] == len(lon)
    top = res["clusters"][0]
    assert -92.5 < top["lon"] < -92.1 and 34.6 < top["lat"] < 34.9
    hd = hotspots.clusters(lon=lon[:3000], lat=lat[:3000], method="hdbscan", min_samples=30)
    assert hd["clusters"]


@pytest.fixture
def nyc(data_dir):
    base = data_dir / "nyc_311_sample_and_boundaries"
    area_import_geojson(
        path=base / "nyc_borough_boundaries.geojson",
        mapping=AreaMapping(code_prop="boro_name", name_prop="boro_name", level="district", code_prefix="nyc-"),
    )
    area_import_geojson(
        path=base / "nyc_neighborhoods.geojson",
        mapping=AreaMapping(
            code_prop="{borough}/{neighborhood}",
            name_prop="neighborhood",
            level="community",
            code_prefix="nyc-",
            parent_code_prop="borough",
            parent_code_prefix="nyc-",
        ),
    )
    run = event_import.events_import_csv(
        path=base / "nyc_311_service_requests_2022-05-01_sample.csv", mapping=event_import.NYC_311, source_code="nyc311"
    )
    return base, run


def test_nyc_311_hotspots_over_neighbourhood_polygons(nyc, api_client):
    base, run = nyc
    assert run.rows_read == 924 and run.rows_stored == 924
    located = Event.objects.filter(type="service_request.created", location__isnull=False)
    # Each located request got its neighbourhood (the smallest area containing it) or none (parks, water).
    assert located.filter(area__level="community").count() > 850
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    r = api_client.get(
        URL,
        {"event": "service_request.*", "level": "community", "window": "1d", "to": "2022-05-01", "permutations": 99},
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["cells"] == "areas" and body["cell_count"] == Area.objects.filter(level="community").count()
    # The per-neighbourhood counts equal PostGIS point-in-polygon counts made independently.
    by_area = {f["properties"]["area_id"]: f["properties"]["count"] for f in body["features"]}
    for area in Area.objects.filter(level="community").order_by("id")[:40]:
        expected = located.filter(location__within=area.geometry).count()
        assert by_area.get(area.id, 0) == expected
    assert body["events"] == sum(by_area.values())
    assert {f["properties"]["class"] for f in body["features"]} <= {"hot", "cold", ""}


def test_emerging_hotspots_across_windows_find_a_new_hotspot(api_client):
    # Background noise every week at random points; in the last week a burst around one spot.
    rng = np.random.default_rng(1)
    start = date(2026, 5, 4)
    rows = []
    for week in range(4):
        for _ in range(300):
            at = city_dt(start + timedelta(days=7 * week + int(rng.integers(0, 7))), 10)
            rows.append(
                Event(
                    type="incident.fire",
                    occurred_at=at,
                    location=Point(120 + rng.uniform(0, 0.2), 30 + rng.uniform(0, 0.2)),
                )
            )
    for _ in range(80):
        at = city_dt(start + timedelta(days=21 + int(rng.integers(0, 7))), 12)
        rows.append(
            Event(
                type="incident.fire",
                occurred_at=at,
                location=Point(120.15 + rng.normal(0, 0.004), 30.05 + rng.normal(0, 0.004)),
            )
        )
    Event.objects.bulk_create(rows)
    api_client.force_authenticate(make_user(role=Role.CITY_LEADER))
    r = api_client.get(
        URL, {"event": "incident.fire", "window": "7d", "windows": 4, "to": start + timedelta(days=27), "cell": 1000}
    )
    assert r.status_code == 200, r.content
    new = [f for f in r.json()["features"] if f["properties"]["emerging"] == "new"]
    assert new, r.json()["summary"]
    for f in new:
        ring = f["geometry"]["coordinates"][0]
        lons = [p[0] for p in ring]
        lats = [p[1] for p in ring]
        assert min(lons) - 0.02 < 120.15 < max(lons) + 0.02 and min(lats) - 0.02 < 30.05 < max(lats) + 0.02


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "event"),
        ({"event": "x", "window": "7w"}, "window"),
        ({"event": "x", "window": "999d"}, "window"),
        ({"event": "x", "windows": 0}, "windows"),
        ({"event": "x", "windows": 99}, "windows"),
        ({"event": "x", "permutations": 100000}, "permutations"),
        ({"event": "x", "cell": 1}, "cell"),
        ({"event": "x", "level": "planet"}, "level"),
        ({"event": "x", "alpha": 2}, "alpha"),
        ({"event": "x", "to": "1800-01-01"}, "to"),
    ],
)
def test_bad_hotspot_queries_get_a_400_naming_the_field(api_client, params, field):
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    r = api_client.get(URL, params)
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]


def test_a_grid_too_fine_for_the_extent_is_a_400(api_client):
    Event.objects.bulk_create(
        [
            Event(type="incident.x", occurred_at=city_dt(date(2026, 1, 1)), location=Point(100 + k, 20 + k))
            for k in range(3)
        ]
    )
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    r = api_client.get(URL, {"event": "incident.x", "to": "2026-01-01", "window": "1d", "cell": 50})
    assert r.status_code == 400 and "cell" in r.json()["error"]["fields"]


def test_the_import_events_command_imports_and_names_a_missing_column(data_dir, tmp_path):
    import io

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    path = data_dir / "nyc_311_sample_and_boundaries" / "nyc_311_service_requests_2022-05-01_sample.csv"
    call_command("import_events", str(path), "--preset", "nyc_311", "--source", "nyc", stdout=out)
    assert out.getvalue().strip() == "read 924, stored 924, rejected 0"
    bad = tmp_path / "x.csv"
    bad.write_text("when,kind\n2026-01-01 10:00:00,a\n")
    with pytest.raises(CommandError, match="'lon'"):
        call_command("import_events", str(bad), "--type", "x.y", "--time-column", "when", "--lon-column", "lon")


@pytest.mark.celery_worker
def test_a_long_hotspot_analysis_runs_in_a_real_worker_with_progress(
    transactional_db, celery_worker_process, api_client
):
    import time

    rng = np.random.default_rng(2)
    Event.objects.bulk_create(
        [
            Event(type="incident.fire", occurred_at=city_dt(date(2026, 5, 1 + int(d))), location=Point(120 + x, 30 + y))
            for d, x, y in zip(
                rng.integers(0, 28, 3000), rng.uniform(0, 0.2, 3000), rng.uniform(0, 0.2, 3000), strict=True
            )
        ]
    )
    owner = make_user(role=Role.ANALYST)
    api_client.force_authenticate(owner)
    r = api_client.post(f"{URL}jobs/?event=incident.fire&window=7d&windows=4&to=2026-05-28&cell=1000&permutations=99")
    assert r.status_code == 202, r.content
    job = r.json()["id"]
    seen, body = set(), {}
    for _ in range(120):
        body = api_client.get(f"/api/v1/analysis/jobs/{job}/").json()
        seen.add(body["state"])
        if body["state"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert body["state"] == "done" and body["progress"] == 1.0
    assert body["result"]["windows"] == 4 and body["result"]["events"] == 3000
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    assert api_client.get(f"/api/v1/analysis/jobs/{job}/").status_code == 404
