import time

import pytest
from django.test import override_settings
from stdnum.cn import uscc

from cityos.demo import build_demo_city
from industry.models import Appeal, Enterprise, Grant, Indicator, Match, Park, Policy

pytestmark = pytest.mark.django_db(transaction=False)


@override_settings(INDUSTRY_DEMO_ENTERPRISES=2000)
def test_the_demo_city_has_its_industry_and_a_rerun_adds_nothing():
    from cityos.demo import STEPS

    stamps = [("start", time.monotonic())]
    ctx = build_demo_city(log=lambda m: stamps.append((m, time.monotonic())))
    steps = {m: t - stamps[i][1] for i, (m, t) in enumerate(stamps[1:])}
    timings = steps["demo city: industry ready"]
    assert Enterprise.objects.filter(source="demo").count() == 2000
    assert all(uscc.is_valid(u) for u in Enterprise.objects.values_list("uscc", flat=True))
    assert Park.objects.count() == 3 and Enterprise.objects.filter(park__isnull=False).count() > 500
    assert Indicator.objects.filter(period="month").values("period_start").distinct().count() == 36
    assert Policy.objects.count() >= 15 and Policy.objects.exclude(title_en="").count() == Policy.objects.count()
    assert set(Appeal.objects.values_list("status", flat=True)) == set(Appeal.Status.values)
    assert Match.objects.filter(status="eligible").exists() and Grant.objects.filter(status="proposed").exists()
    assert any(login[0] == "qiye" for login in ctx.logins)
    assert Enterprise.objects.filter(risk_level__in=["medium", "high"]).exists()
    assert "industry" in [n for n, _ in STEPS]
    n_ind = Indicator.objects.count()
    build_demo_city()
    assert Enterprise.objects.filter(source="demo").count() == 2000 and Indicator.objects.count() == n_ind
    print(f"industry demo step with 2,000 enterprises: {timings:.1f} s; all steps: {sum(steps.values()):.1f} s")
