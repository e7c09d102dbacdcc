"""Spatio-temporal queries (region statistics, nearest entities, time-window joins, CSV export)
and administrative efficiency per department from the event log."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.contrib.gis.geos import Point

from cityos.roles import Role
from datahub.models import Event
from tests.datahub.core.factories import make_area, make_entity
from tests.factories import make_department, make_user

from .factories import city_dt

pytestmark = pytest.mark.django_db
API = "/api/v1/analysis/"
DAY = date(2026, 5, 4)


@pytest.fixture
def analyst(api_client):
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    return api_client


def _ev(t, at, lon, lat, **payload):
    return Event(type=t, occurred_at=at, location=Point(lon, lat, srid=4326), payload=payload)


def test_region_stats_count_per_district_and_day_with_csv(analyst):
    d1, d2 = make_area(box=(120.0, 30.0, 0.1), code="D1"), make_area(box=(120.1, 30.0, 0.1), code="D2")
    Event.objects.bulk_create(
        [_ev("case.received", city_dt(DAY, 9), 120.05, 30.05)] * 3
        + [_ev("case.received", city_dt(DAY + timedelta(days=1), 9), 120.15, 30.05)] * 2
        + [_ev("case.received", city_dt(DAY, 9), 121.5, 30.05)]  # outside both
    )
    r = analyst.get(API + "region-stats/", {"event": "case.*", "from": DAY, "to": DAY + timedelta(days=1)})
    assert r.status_code == 200, r.content
    got = [(x["area_id"], x["bucket"][:10], x["count"]) for x in r.json()]
    assert got == [(d1.id, "2026-05-04", 3), (d2.id, "2026-05-05", 2)]
    r = analyst.get(
        API + "region-stats/", {"event": "case.*", "from": DAY, "to": DAY + timedelta(days=1), "export": "csv"}
    )
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert [(x["area_code"], x["count"]) for x in rows] == [("D1", "3"), ("D2", "2")]
    assert analyst.get(API + "region-stats/", {"event": "x", "metric": "pm25"}).status_code == 400


def test_nearest_entities_in_order_with_distances(analyst):
    far = make_entity(type="enterprise", name="远", lon=120.02, lat=30.0)
    near = make_entity(type="enterprise", name="近", lon=120.001, lat=30.0)
    make_entity(type="facility", name="设施", lon=120.0005, lat=30.0)
    r = analyst.get(API + "nearest/", {"lon": 120.0, "lat": 30.0, "k": 5, "type": "enterprise"})
    rows = r.json()
    assert [x["id"] for x in rows] == [near.id, far.id]
    assert 90 < rows[0]["distance_m"] < 100  # 0.001° of longitude at 30° N is ~96 m
    r = analyst.get(API + "nearest/", {"lon": 120.0, "lat": 30.0, "max_distance": 500})
    assert {x["name"] for x in r.json()} == {"近", "设施"}
    assert analyst.get(API + "nearest/", {"lon": 500, "lat": 30}).status_code == 400


def test_cases_within_500m_and_24h_of_an_alert(analyst):
    t = city_dt(DAY, 12)
    Event.objects.bulk_create(
        [
            _ev("alert.raised", t, 120.0, 30.0),
            _ev("case.received", t + timedelta(hours=3), 120.003, 30.0),  # ~290 m, 3 h: in
            _ev("case.received", t + timedelta(hours=30), 120.001, 30.0),  # 30 h: out
            _ev("case.received", t + timedelta(hours=1), 120.01, 30.0),  # ~960 m: out
        ]
    )
    r = analyst.get(
        API + "window-join/",
        {
            "left": "case.received",
            "right": "alert.raised",
            "distance": 500,
            "hours": 24,
            "from": DAY,
            "to": DAY + timedelta(days=2),
        },
    )
    assert r.status_code == 200, r.content
    [pair] = r.json()
    assert pair["hours_after"] == 3.0 and 280 < pair["distance_m"] < 300
    r = analyst.get(
        API + "window-join/",
        {"left": "case.received", "right": "alert.raised", "export": "csv", "from": DAY, "to": DAY + timedelta(days=2)},
    )
    assert r.content.decode().splitlines()[0].startswith("left_id,left_type")
    assert (
        analyst.get(
            API + "window-join/", {"left": "case.received", "right": "alert.raised", "distance": 10**9}
        ).status_code
        == 400
    )


def test_efficiency_per_department_across_families(analyst):
    a, b = make_department(name="城管局"), make_department(name="住建局")
    t = city_dt(DAY, 9)
    rows = []

    def item(fam, ref, dept, start_act, end_act=None, hours=10, overdue=False, reopen=False, rating=None):
        rows.append(Event(type=f"{fam}.{start_act}", occurred_at=t, object_ref=ref, payload={"department": dept}))
        if overdue:
            rows.append(
                Event(
                    type=f"{fam}.overdue",
                    occurred_at=t + timedelta(hours=hours - 1),
                    object_ref=ref,
                    payload={"department": dept},
                )
            )
        if reopen:
            rows.append(
                Event(
                    type=f"{fam}.reopen",
                    occurred_at=t + timedelta(hours=hours + 1),
                    object_ref=ref,
                    payload={"department": dept},
                )
            )
        if end_act:
            rows.append(
                Event(
                    type=f"{fam}.{end_act}",
                    occurred_at=t + timedelta(hours=hours),
                    object_ref=ref,
                    payload={"department": dept},
                )
            )
        if rating is not None:
            rows.append(
                Event(
                    type=f"{fam}.rated",
                    occurred_at=t + timedelta(hours=hours + 2),
                    object_ref=ref,
                    payload={"department": dept, "rating": rating},
                )
            )

    item("case", "g:case:1", a.id, "received", "close", hours=10, rating=5)
    item("case", "g:case:2", a.id, "received", "close", hours=20, overdue=True, rating=3)
    item("case", "g:case:3", a.id, "received")
    item("case", "g:case:4", b.id, "received", "close", hours=4, reopen=True)
    item("industry", "i:appeal:1", b.id, "appeal_submitted", "appeal_closed", hours=48)
    Event.objects.bulk_create(rows)
    r = analyst.get(API + "efficiency/", {"from": DAY, "to": DAY})
    assert r.status_code == 200, r.content
    by = {(x["family"], x["department"]): x for x in r.json()}
    ca = by[("case", "城管局")]
    assert (ca["workload"], ca["finished"], ca["on_time_rate"], ca["mean_handling_hours"], ca["satisfaction"]) == (
        3,
        2,
        0.5,
        15.0,
        4.0,
    )
    cb = by[("case", "住建局")]
    assert (cb["on_time_rate"], cb["reopen_rate"], cb["rank"], ca["rank"]) == (1.0, 1.0, 1, 2)
    ib = by[("industry", "住建局")]
    assert (ib["workload"], ib["mean_handling_hours"]) == (1, 48.0)
    assert analyst.get(API + "efficiency/", {"family": "nope"}).status_code == 400
