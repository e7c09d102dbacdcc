import pytest

from cityos import bus
from datahub import facade
from datahub.models import Area, Event
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db

received = []


def _handler(payload):
    received.append(payload)


@pytest.fixture
def city():
    demo_city()
    return Area.objects.get(level="city")


def test_it_locates_a_point_at_every_level(city):
    c = city.geometry.centroid
    found = facade.area_locate(lon=c.x + 0.01, lat=c.y + 0.01)
    assert set(found) == {"city", "district", "street", "grid"}
    grid = found["grid"]
    chain = [a.level for a in facade.area_ancestors(area_id=grid.id)]
    assert chain == ["grid", "street", "district", "city"]
    assert found["street"].id == grid.parent_id


def test_it_finds_nothing_outside_the_city(city):
    assert facade.area_locate(lon=0.0, lat=0.0) == {}


def test_it_records_events_and_publishes_them_after_commit(monkeypatch, city, django_capture_on_commit_callbacks):
    received.clear()
    monkeypatch.setitem(
        bus._subscribers,
        "datahub.event_recorded",
        [*bus.subscribers("datahub.event_recorded"), "tests.datahub.test_facade._handler"],
    )  # removed after the test
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event_id = facade.event_record(type="case.created", area_id=city.id, payload={"case": 1})
        assert received == []  # nothing is delivered before commit
    for cb in callbacks:
        cb()
    assert received == [
        {
            "event_id": event_id,
            "type": "case.created",
            "area_id": city.id,
            "occurred_at": Event.objects.get(id=event_id).occurred_at.isoformat(),
        }
    ]


def test_it_refuses_an_event_without_type():
    with pytest.raises(ValueError):
        facade.event_record(type="")


def test_it_returns_plain_data_not_models(city):
    info = facade.area_get(code=city.code)
    assert not hasattr(info, "_meta")
    with pytest.raises(AttributeError):
        info.name = "x"


def test_entity_surroundings_gives_what_the_three_near_functions_give_in_one_query(django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from datahub import facade as f

    entity_id, _conf, _created = f.entity_resolve(type="enterprise", name="周边测试企业", lon=120.01, lat=30.01)
    f.event_record(type="case.created", lon=120.01001, lat=30.01001, payload={"title": "近处", "n": 0.5})
    f.event_record(type="case.created", subject_id=entity_id, payload={"title": "点名"})
    f.event_record(type="case.created", lon=120.05, lat=30.05, payload={"title": "远处"})
    f.event_record(type="other.thing", lon=120.01, lat=30.01)
    since = timezone.now() - timedelta(days=1)
    args = {"lon": 120.01, "lat": 30.01, "subject_id": entity_id}
    expected = {
        "events": f.events_near(**args, metres=50, type_prefix="case.created", since=since),
        "alerts": f.alerts_near(**args, metres=200),
        "documents": f.documents_mentioning(entity_id=entity_id),
    }
    with django_assert_num_queries(1):
        got = f.entity_surroundings(
            entity_id=entity_id,
            lon=120.01,
            lat=30.01,
            event_metres=50,
            event_type_prefix="case.created",
            event_since=since,
            alert_metres=200,
        )
    assert got == expected
    assert sorted(e["payload"]["title"] for e in got["events"]) == ["点名", "近处"]
    assert got["events"][0]["occurred_at"] >= got["events"][1]["occurred_at"]
