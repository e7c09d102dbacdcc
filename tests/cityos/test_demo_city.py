import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point

from cityos.roles import Role
from datahub.models import Area, Department
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        list(Area.objects.order_by("code").values_list("code", "name", "name_en", "level", "population")),
        [a.geometry.wkt for a in Area.objects.order_by("code")],
        list(Department.objects.order_by("code").values_list("code", "name", "parent__code")),
    )


def test_it_builds_a_deterministic_city_and_running_it_twice_changes_nothing():
    demo_city()
    first = _snapshot()
    demo_city()
    assert _snapshot() == first
    levels = dict(
        Area.objects.values_list("level").annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
    )
    assert levels == {"city": 1, "district": 6, "street": 24, "grid": 96}


def test_it_tiles_each_district_with_its_streets_without_gaps():
    demo_city()
    for district in Area.objects.filter(level="district"):
        streets = Area.objects.filter(parent=district)
        union = streets[0].geometry
        for s in streets[1:]:
            union = union.union(s.geometry)
        assert abs(union.area - district.geometry.area) < 1e-9
        # Every street has Chinese and English names.
        assert all(s.name.endswith("街道") and s.name_en.endswith("Subdistrict") for s in streets)


def test_it_locates_a_point_in_exactly_one_grid():
    demo_city()
    city = Area.objects.get(level="city")
    c = city.geometry.centroid
    p = Point(c.x + 0.0123, c.y + 0.0071, srid=4326)
    grids = Area.objects.filter(level="grid", geometry__contains=p)
    assert grids.count() == 1
    assert grids[0].parent.parent.parent == city


def test_it_creates_a_user_for_every_role_who_can_log_in(client):
    demo_city()
    roles = set(get_user_model().objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    assert client.login(username="officer", password="cityos-demo")
    assert get_user_model().objects.get(username="officer").department.code == "urban-management"
