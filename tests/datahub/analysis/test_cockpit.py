"""The cockpit's API: server-side clusters whose counts add up to the points, single items capped
at street zoom, KPI tiles and the 14-day trend, validation."""

import numpy as np
import pytest
from django.contrib.gis.geos import Point, Polygon
from django.utils import timezone

from cityos.roles import Role
from datahub.models import Event
from tests.datahub.core.factories import make_area
from tests.factories import make_user

pytestmark = pytest.mark.django_db
LAYER = "/api/v1/analysis/cockpit/layer/"


@pytest.fixture
def leader(api_client):
    api_client.force_authenticate(make_user(role=Role.CITY_LEADER))
    return api_client


def _cases(n, *, area=None, seed=0, x0=120.0, y0=30.0, size=0.2):
    rng = np.random.default_rng(seed)
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(
                type="case.received",
                occurred_at=now - timezone.timedelta(minutes=int(m)),
                area=area,
                location=Point(float(x), float(y), srid=4326),
                payload={"category": "noise"},
            )
            for x, y, m in zip(
                rng.uniform(x0, x0 + size, n), rng.uniform(y0, y0 + size, n), rng.integers(0, 600, n), strict=True
            )
        ],
        batch_size=5000,
    )


def test_clusters_add_up_to_the_points_and_stay_few(leader):
    _cases(20_000)
    r = leader.get(LAYER, {"layer": "cases", "zoom": 11})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["clustered"] is True
    assert sum(f["properties"]["count"] for f in body["features"]) == 20_000
    assert len(body["features"]) < 1000
    # a bounding box keeps only the clusters of the points inside it
    r = leader.get(LAYER, {"layer": "cases", "zoom": 11, "bbox": "120.0,30.0,120.1,30.1"})
    inside = Event.objects.filter(location__intersects=Polygon.from_bbox((120.0, 30.0, 120.1, 30.1))).count()
    assert sum(f["properties"]["count"] for f in r.json()["features"]) == inside


def test_street_zoom_sends_single_items_capped(leader):
    _cases(2500, size=0.01)
    r = leader.get(LAYER, {"layer": "cases", "zoom": 17})
    body = r.json()
    assert body["clustered"] is False and body["truncated"] is True and len(body["features"]) == 2000
    assert body["features"][0]["properties"]["label"] == "case.received"


def test_a_district_filter_drills_down(leader):
    d1, d2 = make_area(box=(120.0, 30.0, 0.1)), make_area(box=(120.1, 30.0, 0.1))
    _cases(300, area=d1, size=0.1)
    _cases(200, area=d2, x0=120.1, size=0.1, seed=1)
    r = leader.get(LAYER, {"layer": "cases", "zoom": 10, "area": d2.id})
    assert sum(f["properties"]["count"] for f in r.json()["features"]) == 200
    k = leader.get("/api/v1/analysis/cockpit/kpis/", {"area": d1.id}).json()
    assert k["cases_received"] <= 300 and k["trend"]["cases"][-1] + k["trend"]["cases"][-2] == 300
    assert len(k["trend"]["days"]) == 14


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"layer": "everything"}, "layer"),
        ({"layer": "cases", "zoom": 99}, "zoom"),
        ({"layer": "cases", "bbox": "1,2,3"}, "bbox"),
        ({"layer": "cases", "bbox": "10,10,5,20"}, "bbox"),
        ({"layer": "cases", "bbox": "nan,1,2,3"}, "bbox"),
        ({"layer": "cases", "hours": 0}, "hours"),
    ],
)
def test_bad_layer_queries_are_400s(leader, params, field):
    r = leader.get(LAYER, params)
    assert r.status_code == 400 and field in r.json()["error"]["fields"]


def test_entity_and_situation_layers_answer(leader):
    for layer in ("sensors", "situations", "entity:enterprise", "entity:facility", "alerts", "risks"):
        r = leader.get(LAYER, {"layer": layer, "zoom": 12})
        assert r.status_code == 200 and r.json()["features"] == []
