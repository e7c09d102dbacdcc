"""The pure evaluators, and state that survives a process restart."""

import math

import pytest

from datahub.models import Alert
from datahub.monitoring.services import evaluators as ev
from datahub.monitoring.services import rules
from datahub.monitoring.services.evaluate import on_observations
from tests.datahub.monitoring.factories import make_rule

H = 3600.0


def run(evaluator, samples):
    st, out = {}, []
    for t, v in samples:
        out += [(a, at) for a, at, _ in evaluator.step(st, t, v)]
    return out


def test_it_raises_a_threshold_only_after_the_duration_and_clears_with_hysteresis():
    th = ev.Threshold({"op": ">", "threshold": 150, "duration_s": 2 * H, "clear_threshold": 100})
    samples = [(0, 160), (H, 170), (2 * H, 155), (3 * H, 140), (4 * H, 120), (5 * H, 99), (6 * H, 160)]
    # 140 and 120 are below the threshold but above the clear threshold: still active (no flapping).
    assert run(th, samples) == [("raise", 2 * H), ("clear", 5 * H)]


def test_it_restarts_a_threshold_run_after_a_gap_longer_than_max_gap():
    th = ev.Threshold({"threshold": 150, "duration_s": 2 * H, "max_gap_s": H})
    assert run(th, [(0, 160), (H, 170), (3 * H, 170), (4 * H, 170)]) == []
    assert run(th, [(0, 160), (H, 170), (3 * H, 170), (4 * H, 170), (5 * H, 171)]) == [("raise", 5 * H)]


def test_it_ignores_duplicate_and_out_of_order_samples():
    th = ev.Threshold({"threshold": 10})
    st = {}
    assert th.step(st, 100, 20)
    assert th.step(st, 100, 5) == ()
    assert th.step(st, 50, 5) == ()
    assert st["a"] == 1


def test_it_names_the_bad_parameter():
    with pytest.raises(ev.RuleParamError, match="params.threshold is required"):
        ev.Threshold({})
    with pytest.raises(ev.RuleParamError, match="clear_threshold must be <= threshold"):
        ev.Threshold({"threshold": 10, "clear_threshold": 20})
    with pytest.raises(ev.RuleParamError, match=r"children\[1\].threshold is required"):
        ev.Combination(
            {
                "children": [
                    {"kind": "threshold", "metric": "a", "params": {"threshold": 1}},
                    {"kind": "threshold", "metric": "b", "params": {}},
                ]
            }
        )


def test_it_raises_no_data_from_the_beat_check_and_clears_on_the_next_sample():
    nd = ev.NoData({"timeout_s": 600})
    st = {}
    nd.step(st, 1000, 1.0)
    assert nd.check(st, 1500) == ()
    assert nd.check(st, 1700) == (("raise", 1600, None),)
    assert nd.check(st, 1800) == ()  # already raised
    assert nd.step(st, 1900, 2.0) == (("clear", 1900, 2.0),)


def test_it_counts_events_in_a_sliding_window_with_hysteresis():
    times = [0, 10, 20, 30, 100]
    out = ev.event_count_replay(times, window_s=60, count=3, clear_count=2, until=1000)
    # Window (t-60, t]. The 3rd event (t=20) raises. At t=60 the event at 0 leaves (3 left: 10, 20,
    # 30), at 70 the one at 10 (2 left: not below clear_count), at 80 the one at 20: 1 left, cleared.
    assert [(a, at) for a, at, _ in out] == [("raise", 20), ("clear", 80)]


@pytest.mark.django_db
def test_it_resumes_a_threshold_run_after_a_restart_from_the_redis_state():
    make_rule(params={"op": ">", "threshold": 150, "duration_s": 2 * H})
    obs = {"datastream_id": 5, "metric": "pm25", "device_type": "air", "area_id": None, "subject_id": None}
    on_observations([{**obs, "time": 0.0, "value": 160}, {**obs, "time": H, "value": 170}])
    rules._index = None  # a new process: nothing in memory, the run's start is in Redis
    assert on_observations([{**obs, "time": 2 * H, "value": 180}]) == 1
    assert Alert.objects.get().subject_key == "ds:5"


@pytest.mark.django_db
def test_it_matches_rules_by_area_including_descendant_areas():
    from datahub.models import Area

    city = Area.objects.create(code="c1", name="市", level="city")
    district = Area.objects.create(code="d1", name="区", level="district", parent=city)
    street = Area.objects.create(code="s1", name="街道", level="street", parent=district)
    other = Area.objects.create(code="d2", name="别区", level="district", parent=city)
    make_rule(params={"threshold": 10}, area_id=district.id)
    base = {"metric": "pm25", "device_type": "air", "subject_id": None, "time": 1.0, "value": 99}
    on_observations(
        [{**base, "datastream_id": 1, "area_id": street.id}, {**base, "datastream_id": 2, "area_id": other.id}]
    )
    assert list(Alert.objects.values_list("subject_key", flat=True)) == ["ds:1"]


@pytest.mark.django_db
def test_it_raises_a_no_data_alert_from_the_beat_check_and_clears_it_when_data_returns():
    from datetime import UTC, datetime

    from datahub.monitoring.services.evaluate import heartbeats_check

    make_rule(name="offline", kind="no_data", params={"timeout_s": 600}, severity="minor")
    obs = {"datastream_id": 8, "metric": "pm25", "device_type": "air", "area_id": None, "subject_id": None}
    on_observations([{**obs, "time": 1000.0, "value": 1.0}])
    assert heartbeats_check(now=datetime.fromtimestamp(1500, tz=UTC)) == 0
    assert heartbeats_check(now=datetime.fromtimestamp(1700, tz=UTC)) == 1
    assert heartbeats_check(now=datetime.fromtimestamp(1800, tz=UTC)) == 0  # once
    alert = Alert.objects.get()
    assert (alert.subject_key, alert.raised_at.timestamp(), alert.status) == ("ds:8", 1600.0, "active")
    on_observations([{**obs, "time": 1900.0, "value": 1.0}])
    alert.refresh_from_db()
    assert (alert.status, alert.cleared_at.timestamp()) == ("cleared", 1900.0)


@pytest.mark.django_db
def test_it_hands_a_failed_alert_write_to_a_retrying_task_instead_of_failing_the_ingest(monkeypatch):
    from datahub.monitoring import tasks
    from datahub.monitoring.services import evaluate

    make_rule(params={"threshold": 10})
    queued = []
    monkeypatch.setattr(tasks.apply_transition_later, "delay", lambda *args: queued.append(args))
    real = evaluate.apply_transition

    def broken(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(evaluate, "apply_transition", broken)
    obs = {"datastream_id": 6, "metric": "pm25", "device_type": "air", "area_id": None, "subject_id": None}
    assert on_observations([{**obs, "time": 5.0, "value": 50}]) == 1
    assert not Alert.objects.exists()
    (rule_id, subject_key, transition, saved_obs) = queued[0]
    monkeypatch.setattr(evaluate, "apply_transition", real)
    tasks.apply_transition_later(rule_id, subject_key, transition, saved_obs)  # what the worker runs
    alert = Alert.objects.get()
    assert (alert.subject_key, alert.value, alert.raised_at.timestamp()) == ("ds:6", 50.0, 5.0)


def test_it_measures_a_rate_over_min_span_so_sensor_noise_does_not_flap():
    # Every 10 s, noise of ±5 around 50: between consecutive samples that is ±1,800 per hour.
    noisy = [(i * 10, 50 + (5 if i % 2 else -5)) for i in range(720)]  # two hours
    params = {"rate_per_hour": 80, "clear_rate_per_hour": 20, "direction": "rise"}
    assert ("raise", 10) in run(ev.RateOfChange(params), noisy)  # consecutive samples: flaps at once
    assert run(ev.RateOfChange({**params, "min_span_s": 1800}), noisy) == []
    # A real rise (+100 within half an hour) still raises, once the span has passed, then clears.
    rise = noisy + [(7200 + i * 10, 150 + (5 if i % 2 else -5)) for i in range(360)]
    assert run(ev.RateOfChange({**params, "min_span_s": 1800}), rise) == [("raise", 7200), ("clear", 9000)]


def _weekly(t: float) -> float:
    """A smooth daily cycle (40-80), a little noise, and a level that differs a little by week."""
    week_level = (0.0, 1.0, -1.0, 0.5, -0.5, 0.0)[int(t // (7 * 86400))]
    return 60 + 20 * math.sin(2 * math.pi * (t % 86400) / 86400) + ((t // 60) % 7 - 3) * 0.2 + week_level


def test_a_seasonal_anomaly_compares_each_hour_with_the_same_hour_of_past_weeks_at_any_rate():
    rule = ev.build("anomaly", {"z": 3.5, "clear_z": 1.5, "min_samples": 4})
    week = 7 * 86400
    # Five weeks of one reading a minute: a per-reading baseline (the last few minutes) would see
    # the cycle's slope and the noise as anomalies; the hour's mean against past weeks' does not.
    st: dict = {}
    quiet = [(t, _weekly(t)) for t in range(0, 5 * week, 60)]
    assert [tr for t, v in quiet for tr in rule.step(st, t, v)] == []
    # One hourly mean per week joined each hour-of-week bucket (the last hour is still open).
    assert sorted({len(h) for h in st["b"].values()}) == [4, 5]
    # Week 6, day 2, 10:00: +30 for 20 minutes, so the 10-11 h mean is ~10 above past weeks'. It
    # is judged when the hour is over (stamped with its last reading, 10:59); 11-12 h is normal
    # again and clears it (stamped 11:59).
    t0 = 5 * week + 86400 + 10 * 3600
    spike = [(t, _weekly(t) + (30 if t < t0 + 1200 else 0)) for t in range(t0, t0 + 7200 + 60, 60)]
    transitions = [(tr[0], tr[1]) for t, v in spike for tr in rule.step(st, t, v)]
    assert transitions == [(ev.RAISE, t0 + 3540), (ev.CLEAR, t0 + 7140)]


def test_a_flat_baseline_scales_by_the_mean_absolute_deviation_instead_of_scoring_infinity():
    rule = ev.build("anomaly", {"seasonal": "none", "z": 3.5, "min_samples": 4, "window": 6})
    # Five of six equal (MAD 0): a reading of 10.2 is no anomaly, 20 is.
    assert rule.score([10, 10, 10, 10, 10, 11], 10.2) == pytest.approx(0.2 / (1.2533 * 1 / 6))
    assert rule.score([10, 10, 10, 10, 10, 11], 10.2) < 3.5 < rule.score([10, 10, 10, 10, 10, 11], 20)
    assert rule.score([10, 10, 10, 10], 10.0) == 0.0
    assert rule.score([10, 10, 10, 10], 10.1) == float("inf")
