"""The demo city's analysis step: a past to analyse (the hotline's migrated work orders, signals
with injected incidents, the environmental sensors' hourly history), situations judged, briefings
built; deterministic and idempotent; and the forecasts beat seasonal naive on the demo itself."""

import random
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from cityos.demo.city import STEPS, DemoContext
from datahub.analysis import demo, selectors
from datahub.analysis.services import trends
from datahub.models import Briefing, Event, ObservationRollup, Run, SignalWeight, Situation

pytestmark = pytest.mark.django_db
SEED = 20261124


def _ctx() -> DemoContext:
    return DemoContext(seed=SEED, rng=random.Random(SEED))


def _city_base(*names: str) -> None:
    ctx = _ctx()
    steps = dict(STEPS)
    for name in ("departments", "areas", "users", *names):
        steps[name](ctx)


def _end() -> datetime:
    return datetime.combine(timezone.localdate(), dtime.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def test_the_demo_city_gets_a_past_to_analyse_and_a_rerun_adds_nothing():
    import time

    _city_base("iot devices")
    assert "analysis" in dict(STEPS)  # registered after the apps, last
    assert [n for n, _ in STEPS][-1] == "analysis"
    t0 = time.perf_counter()
    dict(STEPS)["analysis"](_ctx())
    took = time.perf_counter() - t0
    end = _end()
    legacy = Event.objects.filter(object_ref__startswith=demo.LEGACY)
    received = legacy.filter(type="case.received")
    assert received.filter(occurred_at__lt=end - timedelta(days=demo.HISTORY_DAYS - 1)).exists()
    assert not received.filter(occurred_at__gte=end).exists()  # history ends yesterday
    per_day = received.count() / demo.HISTORY_DAYS
    assert 90 < per_day < 160
    assert legacy.filter(type="case.close").count() > 0.8 * received.count()
    assert legacy.filter(type="case.overdue").exists() and legacy.filter(type="case.rated").exists()
    assert Run.objects.filter(source__code="binjiang-12345-legacy", status="succeeded").exists()
    # sensors: an hourly month of the environmental sensors, as rollups
    assert ObservationRollup.objects.filter(resolution="hour", bucket__lt=end - timedelta(days=27)).exists()
    # situations: the injected incidents are found, the older ones judged, the weights learnt
    sits = Situation.objects.all()
    truth = [demo.Injected(i["district"].id, i["at"], i["kinds"]) for i in demo.plan_incidents(demo._city(), end)]
    found = sum(1 for t in truth if any(demo.is_true(s, [t]) for s in sits))
    assert found == len(truth)
    assert sits.filter(status="confirmed").exists() and sits.filter(status="open").exists()
    assert SignalWeight.objects.filter(confirmed__gt=0).exists()
    # the briefings of the last days, with cases, sensor extremes and yesterday's situation
    yesterday = timezone.localdate() - timedelta(days=1)
    b = Briefing.objects.get(day=yesterday, status="ready")
    assert b.content["cases"]["received"]["value"] > 50
    assert b.content["sensors"] and b.content["situations"]
    assert Briefing.objects.filter(status="ready").count() == demo.BRIEFING_DAYS
    counts = (Event.objects.count(), ObservationRollup.objects.count(), sits.count(), Briefing.objects.count())
    dict(STEPS)["analysis"](_ctx())
    assert (Event.objects.count(), ObservationRollup.objects.count(), Situation.objects.count()) == counts[:3]
    assert Briefing.objects.count() == counts[3]
    print(f"analysis demo step: {took:.1f} s")


def test_the_forecast_beats_seasonal_naive_on_held_out_weeks_of_the_demo():
    _city_base()
    city = demo._city()
    end = _end()
    demo.build_hotline_history(_ctx(), city, end, demo.plan_incidents(city, end))
    spec = selectors.parse_series("event:case.received")
    _, y = selectors.load_series(spec, since=end - timedelta(days=demo.HISTORY_DAYS), until=end, bucket="day")
    score = trends.backtest(y, "day", horizon=14, folds=4)
    print(f"demo hotline intake: MASE {score['mase']:.3f} vs seasonal naive {score['mase_seasonal_naive']:.3f}")
    assert score["mase"] < score["mase_seasonal_naive"]
