from datetime import UTC, datetime, timedelta

import pytest

from datahub import facade
from tests.datahub.core.factories import make_area, make_entity, make_event

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def tree():
    district = make_area(box=(120.0, 30.0, 0.5))
    street_a = make_area(level="street", parent=district, box=(120.0, 30.0, 0.2))
    street_b = make_area(level="street", parent=district, box=(120.2, 30.0, 0.2))
    other = make_area(box=(121.0, 30.0, 0.5))
    return district, street_a, street_b, other


def test_it_counts_events_in_an_area_with_its_sub_areas(tree):
    district, street_a, street_b, other = tree
    for area in (district, street_a, street_b, street_b, other):
        make_event(type="case.created", area=area, occurred_at=utc(2026, 3, 1, 2))
    make_event(type="case.closed", area=street_a, occurred_at=utc(2026, 3, 1, 2))
    assert facade.event_count(type="case.created", area_id=district.id) == 4
    assert facade.event_count(type="case.created", area_id=street_b.id) == 2
    assert facade.event_count(type="case.created", area_id=district.id, since=utc(2026, 3, 1, 3)) == 0
    assert facade.event_count(area_id=street_a.id) == 2


def test_the_counts_endpoint_buckets_days_in_the_city_time_zone(auth_client, tree):
    district, street_a, street_b, _other = tree
    # 2026-03-01 20:00 UTC is 2026-03-02 04:00 in Asia/Shanghai: it belongs to the 2nd.
    make_event(area=street_a, occurred_at=utc(2026, 3, 1, 15, 59))  # 23:59 local, 1st
    make_event(area=street_a, occurred_at=utc(2026, 3, 1, 20))
    make_event(area=street_b, occurred_at=utc(2026, 3, 1, 21))
    make_event(type="alert.raised", area=street_b, occurred_at=utc(2026, 3, 1, 21))
    response = auth_client.get(
        f"/api/v1/datahub/events/counts/?type=case.created&bucket=day&group=area&area={district.id}"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "Asia/Shanghai"
    got = [(r["bucket"][:10], r["area_code"], r["count"]) for r in body["results"]]
    assert got == [("2026-03-01", street_a.code, 1), ("2026-03-02", street_a.code, 1), ("2026-03-02", street_b.code, 1)]
    assert body["results"][0]["bucket"] == "2026-03-01T00:00:00+08:00"


def test_the_counts_endpoint_groups_by_type_per_month(auth_client, tree):
    _d, street_a, *_ = tree
    for when, kind in [
        (utc(2026, 1, 5), "a"),
        (utc(2026, 1, 20), "a"),
        (utc(2026, 1, 20), "b"),
        (utc(2026, 2, 1), "a"),
    ]:
        make_event(type=kind, area=street_a, occurred_at=when)
    body = auth_client.get("/api/v1/datahub/events/counts/?bucket=month&group=type").json()
    assert [(r["bucket"][:7], r["type"], r["count"]) for r in body["results"]] == [
        ("2026-01", "a", 2),
        ("2026-01", "b", 1),
        ("2026-02", "a", 1),
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("bucket=year", "bucket:"),
        ("group=colour", "group: unknown group 'colour'"),
        ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until: must be after since"),
        ("since=yesterday", "since:"),
    ],
)
def test_the_counts_endpoint_refuses_bad_parameters(auth_client, query, message):
    response = auth_client.get(f"/api/v1/datahub/events/counts/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)


def test_the_event_list_filters_by_type_area_time_and_subject(auth_client, tree):
    district, street_a, _b, other = tree
    e = make_entity()
    keep = make_event(type="case.created", area=street_a, subject=e, occurred_at=utc(2026, 3, 1))
    make_event(type="case.created", area=other, subject=e, occurred_at=utc(2026, 3, 1))
    make_event(type="case.closed", area=street_a, subject=e, occurred_at=utc(2026, 3, 1))
    make_event(type="case.created", area=street_a, occurred_at=utc(2026, 3, 1))
    make_event(type="case.created", area=street_a, subject=e, occurred_at=utc(2026, 4, 1))
    url = (
        f"/api/v1/datahub/events/?type=case.created&area={district.id}&subject={e.id}"
        "&since=2026-02-01T00:00:00Z&until=2026-03-15T00:00:00Z"
    )
    assert [r["id"] for r in auth_client.get(url).json()["results"]] == [keep.id]


def test_the_event_list_pages_with_a_cursor_newest_first(auth_client, django_assert_max_num_queries):
    base = utc(2026, 3, 1)
    ids = [make_event(occurred_at=base + timedelta(minutes=i)).id for i in range(7)]
    seen, url = [], "/api/v1/datahub/events/?page_size=3"
    while url:
        with django_assert_max_num_queries(3):
            page = auth_client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert seen == list(reversed(ids))


def test_the_event_log_cannot_be_written_through_the_api(auth_client):
    assert auth_client.post("/api/v1/datahub/events/", {"type": "x"}, format="json").status_code == 405


def test_a_naive_time_is_taken_as_the_city_time():
    event_id = facade.event_record(type="x.y", occurred_at=datetime(2026, 3, 1, 8, 0))  # noqa: DTZ001
    from datahub.models import Event

    assert Event.objects.get(id=event_id).occurred_at == utc(2026, 3, 1, 0, 0)


def test_the_counts_endpoint_rolls_areas_up_to_a_level(auth_client, tree):
    district, street_a, street_b, other = tree
    grid = make_area(level="grid", parent=street_a, box=(120.0, 30.0, 0.1))
    for area in (grid, grid, street_a, street_b, other, district):
        make_event(area=area, occurred_at=utc(2026, 3, 1, 2))
    make_event(area=make_area(level="city"), occurred_at=utc(2026, 3, 1, 2))  # no district above: left out
    body = auth_client.get("/api/v1/datahub/events/counts/?bucket=day&group=area&level=district").json()
    assert sorted((r["area_code"], r["count"]) for r in body["results"]) == sorted(
        [(district.code, 5), (other.code, 1)]
    )


def test_the_facade_counts_per_week_for_dashboards(tree):
    _d, street_a, street_b, _o = tree
    # Monday 2026-03-02 and Sunday 2026-03-08 (local) are one week; Monday 2026-03-09 the next.
    for when in (utc(2026, 3, 2, 1), utc(2026, 3, 8, 10), utc(2026, 3, 9, 1)):
        make_event(type="case.created", area=street_a, occurred_at=when)
    rows = facade.event_counts(bucket="week", group="", types=["case.created"])
    assert [(r["bucket"].date().isoformat(), r["count"]) for r in rows] == [("2026-03-02", 2), ("2026-03-09", 1)]
