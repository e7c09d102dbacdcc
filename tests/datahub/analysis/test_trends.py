"""Trends and forecasts: STL forecasts beat the seasonal-naive baseline on held-out weeks (MASE)
on demo-like event counts and on the Beijing air-quality rollups; change points, 同比/环比 and the
endpoint's validation."""

from datetime import date, timedelta

import numpy as np
import pytest

from cityos.roles import Role
from datahub.analysis import selectors
from datahub.analysis.services import trends
from datahub.iot.services import csv_import as iot_import
from datahub.models import Datastream
from tests.datahub.core.factories import make_area
from tests.factories import make_user

from .factories import city_dt, demo_daily_counts, write_daily_events

pytestmark = pytest.mark.django_db
URL = "/api/v1/analysis/trends/"


@pytest.fixture
def analyst(db):
    return make_user(role=Role.ANALYST)


@pytest.fixture
def client(api_client, analyst):
    api_client.force_authenticate(analyst)
    return api_client


def test_it_beats_seasonal_naive_on_held_out_weeks_of_demo_like_case_intake():
    start = date(2026, 1, 5)
    write_daily_events(demo_daily_counts(196), start=start)
    spec = selectors.parse_series("event:case.*")
    _, y = selectors.load_series(spec, since=city_dt(start), until=city_dt(start + timedelta(days=196)), bucket="day")
    assert y.sum() == demo_daily_counts(196).sum()  # every event counted on its city day
    score = trends.backtest(y, "day", horizon=14, folds=6)
    print(f"demo case intake: MASE {score['mase']:.3f} vs seasonal naive {score['mase_seasonal_naive']:.3f}")
    assert score["folds"] == 6
    assert score["mase"] < score["mase_seasonal_naive"]


def test_it_beats_seasonal_naive_on_the_beijing_pm25_daily_rollups(data_dir):
    # 280 days of the Dongsi station through the datahub's own importer (hourly -> rollups).
    iot_import.beijing_air_quality_import(data_dir=data_dir, stations=["Dongsi"], limit_rows=24 * 280)
    ds = Datastream.objects.get(device__key="bj-aq-dongsi", metric="pm25")
    spec = selectors.parse_series(f"datastream:{ds.id}")
    _, y = selectors.load_series(
        spec, since=city_dt(date(2013, 3, 1)), until=city_dt(date(2013, 3, 1) + timedelta(days=280)), bucket="day"
    )
    assert np.isfinite(y).sum() > 270
    score = trends.backtest(y, "day", horizon=14, folds=6)
    print(f"Beijing Dongsi PM2.5: MASE {score['mase']:.3f} vs seasonal naive {score['mase_seasonal_naive']:.3f}")
    assert score["mase"] < score["mase_seasonal_naive"]


def test_the_forecast_has_weekly_shape_and_intervals_around_it():
    y = demo_daily_counts(120, seed=3).astype(float)
    fc = trends.forecast(y, "day", 14)
    assert len(fc["mean"]) == 14
    assert (fc["lower"] <= fc["mean"]).all() and (fc["mean"] <= fc["upper"]).all()
    # weekends (days 5 and 6 of each week) are forecast lower than weekdays, as in the data
    days = (120 + np.arange(14)) % 7
    assert fc["mean"][days >= 5].mean() < fc["mean"][days < 5].mean() - 4


def test_it_flags_a_level_shift_within_two_days():
    y = demo_daily_counts(140, seed=5, shift_at=90, shift=15).astype(float)
    cps = trends.change_points(y, "day")
    assert any(abs(c["index"] - 90) <= 2 and c["after"] > c["before"] + 10 for c in cps)
    assert trends.change_points(demo_daily_counts(140, seed=5).astype(float), "day") == []


def test_the_endpoint_answers_decomposition_forecast_and_period_over_period(client):
    district = make_area()
    other = make_area()
    start = date(2025, 1, 6)
    counts = demo_daily_counts(420, seed=11)
    write_daily_events(counts, start=start, area=district, payload={"category": "noise"})
    write_daily_events([5] * 420, start=start, area=other, payload={"category": "noise"})
    write_daily_events([2] * 420, start=start, area=district, payload={"category": "road"})
    frm, to = date(2026, 1, 5), date(2026, 2, 1)  # 28 days
    r = client.get(
        URL,
        {"series": "event:case.received", "area": district.id, "category": "noise", "from": frm, "to": to},
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert len(body["points"]) == 28 and len(body["forecast"]) == 14
    assert body["seasonal_periods"] == [7]
    i0 = (frm - start).days
    assert [p["value"] for p in body["points"]] == [float(c) for c in counts[i0 : i0 + 28]]
    pop = body["period_over_period"]
    assert pop["current"] == counts[i0 : i0 + 28].sum()
    assert pop["previous"] == counts[i0 - 28 : i0].sum()
    ya = (date(2025, 1, 5) - start).days  # 2025-01-05 is before the data: the year-ago window starts a day early
    assert pop["year_ago"] == counts[max(ya, 0) : ya + 28].sum()
    assert pop["change_pct"] == round(100 * (pop["current"] - pop["previous"]) / pop["previous"], 2)
    assert body["points"][0]["t"].startswith("2026-01-05T00:00:00+08:00")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"series": "cases"}, "series"),
        ({"series": "event:"}, "series"),
        ({"series": "event:a*b"}, "series"),
        ({"series": "datastream:999999"}, "series"),
        ({"series": "datastream:1:median"}, "series"),
        ({"series": "event:x", "from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"series": "event:x", "from": "1900-01-01", "to": "2026-01-01"}, "from"),
        ({"series": "event:x", "from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ({"series": "event:x", "bucket": "hour", "from": "2026-01-01", "to": "2026-06-01"}, "from"),
        ({"series": "event:x", "horizon": 0}, "horizon"),
        ({"series": "event:x", "horizon": 10**12}, "horizon"),
        ({"series": "event:x", "area": 2**40}, "area"),
        ({"series": "event:x", "area": 999999}, "area"),
        ({"series": "event:x", "to": "2026-13-01"}, "to"),
    ],
)
def test_bad_queries_get_a_400_naming_the_field(client, params, field):
    r = client.get(URL, params)
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]


def test_hourly_series_get_daily_and_weekly_seasonality(client):
    start = date(2026, 3, 2)
    write_daily_events([24] * 21, start=start, type="alert.raised")
    r = client.get(
        URL, {"series": "event:alert.raised", "bucket": "hour", "from": start, "to": start + timedelta(days=20)}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["seasonal_periods"] == [24, 168] and len(body["points"]) == 21 * 24


def test_external_developers_may_not_read_analysis(api_client):
    api_client.force_authenticate(make_user(role=Role.EXTERNAL_DEVELOPER))
    assert api_client.get(URL, {"series": "event:x"}).status_code == 403
    api_client.force_authenticate(None)
    assert api_client.get(URL, {"series": "event:x"}).status_code in (401, 403)


def test_department_officers_see_their_departments_events_and_the_unowned_ones(api_client):
    from tests.factories import make_department

    mine, other = make_department(), make_department()
    start = date(2026, 4, 6)
    write_daily_events([3] * 7, start=start, payload={"department": mine.id})
    write_daily_events([5] * 7, start=start, payload={"department": other.id})
    write_daily_events([1] * 7, start=start, type="case.note")  # no department: an unowned event
    params = {"series": "event:case.*", "from": start, "to": start + timedelta(days=6)}
    api_client.force_authenticate(make_user(role=Role.DEPARTMENT_OFFICER, department=mine))
    officer = api_client.get(URL, params).json()
    api_client.force_authenticate(make_user(role=Role.CITY_LEADER))
    leader = api_client.get(URL, params).json()
    assert officer["period_over_period"]["current"] == 7 * (3 + 1)
    assert leader["period_over_period"]["current"] == 7 * (3 + 5 + 1)
