"""Rules over the real Beijing air-quality data (Dongsi station, hourly, "NA" gaps), fed through
`on_observations` in time order, fire and clear at exactly the hours an independent scan says."""

from datetime import timedelta

import pytest

from datahub.models import Alert, AlertHistory, Entity
from datahub.monitoring.services.evaluate import on_observations
from tests.datahub.monitoring.factories import as_batches, make_rule, read_station

pytestmark = pytest.mark.django_db


@pytest.fixture
def dongsi_pm25(data_dir):
    return read_station(data_dir, "Dongsi", "PM2.5", year_month_from=(2013, 3), months=6)


def _episodes():
    return [(a.raised_at, a.cleared_at) for a in Alert.objects.order_by("raised_at")]


def test_it_fires_and_clears_a_threshold_for_a_duration_at_the_expected_hours(dongsi_pm25):
    make_rule(
        params={
            "op": ">",
            "threshold": 150,
            "duration_s": 7200,
            "clear_threshold": 100,
            "clear_duration_s": 3600,
            "max_gap_s": 3600,
        }
    )
    for batch in as_batches(dongsi_pm25):
        on_observations(batch)

    # Independent scan over the CSV rows (one per hour, None for NA): raise at the third
    # consecutive present hour > 150; clear at the second consecutive present hour <= 100.
    expected, active, raised = [], False, None
    values = [v for _, v in dongsi_pm25]
    for i, (at, _v) in enumerate(dongsi_pm25):
        window3 = values[max(0, i - 2) : i + 1]
        window2 = values[max(0, i - 1) : i + 1]
        if not active and len(window3) == 3 and None not in window3 and min(window3) > 150:
            active, raised = True, at
        elif active and len(window2) == 2 and None not in window2 and max(window2) <= 100:
            expected.append((raised, at))
            active = False
    if active:
        expected.append((raised, None))

    assert len(expected) > 20  # the real data has many smog episodes in half a year
    assert _episodes() == expected
    # Every state change is in the history: one raise and one clear per closed episode.
    assert AlertHistory.objects.filter(action="raised").count() == len(expected)
    assert AlertHistory.objects.filter(action="cleared").count() == sum(1 for _, c in expected if c)


def test_it_fires_a_rate_of_change_rule_at_the_expected_hours(dongsi_pm25):
    make_rule(
        name="PM2.5 jump",
        kind="rate_of_change",
        params={"rate_per_hour": 80, "clear_rate_per_hour": 20, "direction": "rise", "max_gap_s": 3600},
    )
    for batch in as_batches(dongsi_pm25, size=100):
        on_observations(batch)

    expected, active, raised = [], False, None
    for (t0, v0), (t1, v1) in zip(dongsi_pm25, dongsi_pm25[1:], strict=False):
        if v0 is None or v1 is None:
            continue  # no rate across a gap (the evaluator keeps the last value: skip this pair too)
        assert t1 - t0 == timedelta(hours=1)
        rise = v1 - v0
        if not active and rise >= 80:
            active, raised = True, t1
        elif active and rise < 20:
            expected.append((raised, t1))
            active = False
    if active:
        expected.append((raised, None))

    assert len(expected) > 10
    assert _episodes() == expected


def test_it_fires_a_seasonal_anomaly_rule_at_the_expected_hours(data_dir):
    rows = read_station(data_dir, "Dongsi", "PM2.5", year_month_from=(2013, 3), months=3)
    make_rule(
        name="PM2.5 unusual for the hour of the week",
        kind="anomaly",
        params={"z": 3.5, "clear_z": 1.5, "window": 6, "min_samples": 4, "direction": "rise", "utc_offset_s": 8 * 3600},
    )
    for batch in as_batches(rows, size=168):
        on_observations(batch)

    # Independent: baselines keyed by (weekday, hour) of the local timestamps; median via sorting.
    def med(xs):
        s = sorted(xs)
        return (s[len(s) // 2] + s[(len(s) - 1) // 2]) / 2

    history, expected, active, raised = {}, [], False, None
    # An hour is judged when a reading of a later hour arrives: the last reading's hour is open.
    readings = [(at, v) for at, v in rows if v is not None][:-1]
    for at, v in readings:
        past = history.setdefault((at.weekday(), at.hour), [])
        z = None
        if len(past) >= 4:
            m = med(past)
            mad = med([abs(x - m) for x in past])
            mean_ad = sum(abs(x - m) for x in past) / len(past)
            if mad:
                z = 0.6745 * (v - m) / mad
            elif mean_ad:  # the modified z-score's usual fallback when over half the baseline is equal
                z = (v - m) / (1.2533 * mean_ad)
            else:
                z = 0.0 if v == m else (1e309 if v > m else -1e309)
        past.append(v)
        history[(at.weekday(), at.hour)] = past[-6:]
        if z is None:
            continue
        if not active and z > 3.5:
            active, raised = True, at
        elif active and z <= 1.5:
            expected.append((raised, at))
            active = False
    if active:
        expected.append((raised, None))

    assert len(expected) > 3
    assert _episodes() == expected


def test_it_records_no_data_outages_where_the_station_reported_na(data_dir):
    rows = read_station(data_dir, "Dongsi", "PM2.5", year_month_from=(2013, 3), months=12)
    make_rule(name="Station silent", kind="no_data", params={"timeout_s": 3 * 3600}, severity="minor")
    for batch in as_batches(rows, size=24):
        on_observations(batch)

    # Independent: a run of >= 3 "NA" hours between two readings is an outage, from the last
    # reading + 3 h until the next reading.
    expected, last_seen, missing = [], None, 0
    for at, v in rows:
        if v is None:
            missing += 1
            continue
        if last_seen is not None and missing >= 3:
            expected.append((last_seen + timedelta(hours=3), at))
        last_seen, missing = at, 0

    assert len(expected) >= 5
    assert _episodes() == expected


def test_it_fires_a_combination_of_two_pollutants_when_both_are_high(data_dir):
    pm25 = read_station(data_dir, "Dongsi", "PM2.5", year_month_from=(2013, 3), months=4)
    pm10 = read_station(data_dir, "Dongsi", "PM10", year_month_from=(2013, 3), months=4)
    make_rule(
        name="Smog: fine and coarse particles both high",
        kind="combination",
        metric="",
        params={
            "mode": "all",
            "children": [
                {"kind": "threshold", "metric": "pm25", "params": {"threshold": 150}},
                {"kind": "threshold", "metric": "pm10", "params": {"threshold": 250}},
            ],
        },
    )
    # One device (an entity) with one datastream per pollutant; each hour's two readings together.
    device = Entity.objects.create(type="device", name="Dongsi air station")
    merged = []
    for (at, a), (_at2, b) in zip(pm25, pm10, strict=True):
        for ds, metric, v in ((1, "pm25", a), (2, "pm10", b)):
            if v is not None:
                merged.append(
                    {
                        "datastream_id": ds,
                        "time": at,
                        "value": v,
                        "metric": metric,
                        "device_type": "air",
                        "area_id": None,
                        "subject_id": device.id,
                    }
                )
    for i in range(0, len(merged), 48):
        on_observations(merged[i : i + 48])

    expected, high, active, raised = [], {"pm25": False, "pm10": False}, False, None
    for o in merged:
        high[o["metric"]] = o["value"] > (150 if o["metric"] == "pm25" else 250)
        both = high["pm25"] and high["pm10"]
        if both and not active:
            active, raised = True, o["time"]
        elif active and not both:
            expected.append((raised, o["time"]))
            active = False
    if active:
        expected.append((raised, None))

    assert len(expected) >= 5
    assert _episodes() == expected
    assert set(Alert.objects.values_list("subject_key", flat=True)) == {f"e:{device.id}"}
