"""The daily city briefing: figures against the baseline from the event log and the rollups, the
page and PDF (headless Chromium, CJK font), the e-mail to city leaders (once), the API and its
on-demand generation through Celery with progress."""

from datetime import date, timedelta

import pytest
from django.core import mail

from cityos.roles import Role
from datahub.analysis.services import briefing as svc
from datahub.iot.services.ingest import observations_store
from datahub.models import Briefing, Event
from tests.datahub.core.factories import make_area
from tests.datahub.iot.factories import make_device
from tests.factories import make_user

from .factories import city_dt

pytestmark = pytest.mark.django_db
DAY = date(2026, 6, 30)


def _ev(type_, day, hour=9, n=1, area=None, **payload):
    where = area.geometry.point_on_surface if area is not None and area.geometry else None
    return [
        Event(type=type_, occurred_at=city_dt(day, hour), area=area, location=where, payload=dict(payload))
        for _ in range(n)
    ]


@pytest.fixture
def city():
    d1 = make_area(name="西湖区", name_en="Xihu", box=(120.0, 30.0, 0.1))
    d2 = make_area(name="上城区", name_en="Shangcheng", box=(120.1, 30.0, 0.1))
    rows = []
    for k in range(1, 29):  # baseline: 4 noise cases a day in d1, 2 road in d2, 1 alert every 2 days
        day = DAY - timedelta(days=k)
        rows += _ev("case.received", day, n=4, area=d1, category="noise", district=d1.id)
        rows += _ev("case.received", day, n=2, area=d2, category="road", district=d2.id)
        rows += _ev("case.rated", day, rating=4)
        if k % 2 == 0:
            rows += _ev("alert.raised", day, severity="minor")
    # the day: a noise surge in d1, two closures, ratings, alerts, an opinion spike, wing events
    rows += _ev("case.received", DAY, n=12, area=d1, category="noise", district=d1.id)
    rows += _ev("case.received", DAY, n=2, area=d2, category="road", district=d2.id)
    rows += _ev("case.close", DAY, n=2)
    rows += _ev("case.overdue", DAY, n=1)
    rows += _ev("case.rated", DAY, rating=2) + _ev("case.rated", DAY, rating=3)
    rows += _ev("alert.raised", DAY, n=3, severity="major")
    rows += _ev("opinion.negative_spike", DAY, area=d1, topic="环境", count=20, baseline_mean=3, baseline_std=2)
    rows += _ev("industry.risk_raised", DAY, n=2, level="high")
    rows += _ev("livelihood.booking_created", DAY, n=5)
    Event.objects.bulk_create(rows)
    # a sensor: 20 µg/m³ every hour of the baseline, 180 at 10:00 on the day
    _, streams, _ = make_device(name="西湖空气站")
    ds = streams["pm25"]
    t0 = city_dt(DAY - timedelta(days=28))
    obs = [(ds.id, (t0 + timedelta(hours=h)).timestamp(), 20.0) for h in range(28 * 24)]
    obs.append((ds.id, city_dt(DAY, 10).timestamp(), 180.0))
    observations_store(rows=obs)
    return d1, d2


def test_it_compares_yesterday_with_its_baseline(city):
    d1, _ = city
    b = svc.briefing_generate(day=DAY)
    c = b.content
    assert b.status == "ready" and b.progress == 1.0
    assert c["cases"]["received"] == {"value": 14, "baseline": 6.0, "change_pct": 133.3}
    assert c["cases"]["closed"]["value"] == 2 and c["cases"]["overdue"]["value"] == 1
    assert c["cases"]["satisfaction"] == {"value": 2.5, "baseline": 4.0}
    top = c["cases"]["top_categories"][0]
    assert (top["key"], top["value"], top["baseline"]) == ("noise", 12, 4.0)
    assert c["cases"]["top_districts"][0]["name"] == "西湖区" and c["cases"]["top_districts"][0]["name_en"] == "Xihu"
    assert c["alerts"]["raised"] == {"value": 3, "baseline": 0.5, "change_pct": 500.0}
    assert c["sensors"][0]["max"] == 180.0 and c["sensors"][0]["baseline_max"] == 20.0
    assert c["opinion"]["spikes"]["value"] == 1 and c["opinion"]["spike_topics"][0]["key"] == "环境"
    assert [r["type"] for r in c["enterprise_risk"]] == ["industry.risk_raised"]
    assert c["service_demand"][0] == {
        "type": "livelihood.booking_created",
        "value": 5,
        "baseline": 0.0,
        "change_pct": None,
    }
    fams = {r["family"]: r["value"] for r in c["families"]}
    assert fams["case"] == 14 + 2 + 1 + 2 and fams["livelihood"] == 5
    assert c["hotspots"]["events"] >= 14 and c["hotspots"]["svg"].startswith("<svg")


def test_the_page_and_the_pdf_render_in_both_languages(city, client):
    b = svc.briefing_generate(day=DAY)
    client.force_login(make_user(role=Role.CITY_LEADER))
    html = client.get(f"/analysis/briefings/{b.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Daily city briefing" in html and "Xihu" in html
    zh = svc.render_html(b, language="zh-hans")
    assert "每日城市运行简报" in zh and "西湖区" in zh
    r = client.get(f"/analysis/briefings/{b.id}/pdf/?lang=zh-hans")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content[:5] == b"%PDF-" and len(r.content) > 10_000
    # The CJK font is embedded (Chinese would otherwise print as empty boxes).
    assert b"WenQuanYi" in r.content or b"WQY" in r.content.upper()


def test_it_emails_the_city_leaders_once(city):
    make_user(role=Role.CITY_LEADER, email="mayor@city.example")
    make_user(role=Role.DEPARTMENT_OFFICER, email="officer@city.example")
    b = svc.briefing_generate(day=DAY)
    assert svc.briefing_send(briefing_id=b.id) == 1
    assert svc.briefing_send(briefing_id=b.id) == 0
    [msg] = mail.outbox
    assert msg.to == ["mayor@city.example"] and "每日城市运行简报" in msg.subject
    html = msg.alternatives[0][0]
    assert "每日城市运行简报" in html and "Daily city briefing" in html


def test_the_beat_task_builds_yesterday_and_sends_it(city, monkeypatch):
    from django.utils import timezone

    from datahub.analysis.tasks import daily_briefing

    make_user(role=Role.CITY_LEADER, email="mayor@city.example")
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: DAY + timedelta(days=1))
    bid = daily_briefing.apply().get()
    assert Briefing.objects.get(id=bid).day == DAY and len(mail.outbox) == 1
    daily_briefing.apply().get()  # a rerun rebuilds but does not e-mail again
    assert Briefing.objects.count() == 1 and len(mail.outbox) == 1


def test_the_api_lists_briefings_and_queues_one_on_demand(
    city, api_client, django_capture_on_commit_callbacks, monkeypatch
):
    from datahub.analysis import tasks

    queued = []
    monkeypatch.setattr(tasks.briefing_run, "delay", lambda bid: queued.append(bid))
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post("/api/v1/analysis/briefings/", {"day": DAY.isoformat()}, format="json")
    assert r.status_code == 202, r.content
    bid = r.json()["id"]
    assert queued == [bid] and r.json()["status"] == "pending"
    tasks.briefing_run.apply(args=[bid]).get()
    r = api_client.get("/api/v1/analysis/briefings/")
    assert r.status_code == 200 and r.json()["results"][0]["id"] == bid
    assert r.json()["results"][0]["pdf_url"] == f"/analysis/briefings/{bid}/pdf/"
    r = api_client.get(f"/api/v1/analysis/briefings/{bid}/")
    assert r.json()["content"]["cases"]["received"]["value"] == 14
    for bad in ({"day": "2999-01-01"}, {"day": "nope"}, {}):
        r = api_client.post("/api/v1/analysis/briefings/", bad, format="json")
        assert r.status_code == 400 and "day" in r.json()["error"]["fields"]


@pytest.mark.celery_worker
def test_a_real_worker_builds_a_queued_briefing(transactional_db, city, celery_worker_process):
    from datahub.analysis.tasks import briefing_run

    b = Briefing.objects.create(day=DAY)
    assert briefing_run.delay(b.id).get(timeout=60) == b.id
    b.refresh_from_db()
    assert b.status == "ready" and b.content["cases"]["received"]["value"] == 14


def test_the_admin_lists_situations_weights_and_briefings(city, client):
    svc.briefing_generate(day=DAY)
    admin = make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(admin)
    for model in ("situation", "signalweight", "briefing"):
        assert client.get(f"/admin/datahub/{model}/").status_code == 200
    b = Briefing.objects.get()
    assert client.get(f"/admin/datahub/briefing/{b.id}/change/").status_code == 200
