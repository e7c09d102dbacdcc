import pytest

from datahub import facade
from datahub.models import Entity, EntityIdentifier, Event, Run
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(Entity.objects.values_list("name", "type", "area__code")),
        sorted(EntityIdentifier.objects.values_list("scheme", "value", "entity__name")),
        Event.objects.filter(type="facility.inspected").count(),
        Run.objects.filter(source__code="binjiang-facilities").count(),
    )


def test_the_demo_city_registers_facilities_with_identifiers_idempotently():
    demo_city()
    first = _snapshot()
    demo_city()
    assert _snapshot() == first
    entities, identifiers, inspections, runs = first
    assert len(entities) == len(identifiers) >= 48  # 24 streets x 2–3 facilities, one identifier each
    assert all(
        area and area.startswith("9901") and len(area) == 12 for _n, _t, area in entities
    )  # located to grid cells
    assert inspections > 100 and runs == 1
    # The facilities are placed: the monitoring selector counts their inspections per district.
    district = facade.area_get(code="990101")
    assert facade.event_count(type="facility.inspected", area_id=district.id) > 0
