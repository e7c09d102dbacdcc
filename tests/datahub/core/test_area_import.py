import json

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.core.management import CommandError, call_command
from django.utils import translation

from datahub import facade
from datahub.core.coords import wgs84_to_gcj02
from datahub.core.services.areas import AreaImportError, AreaMapping, area_import_geojson
from datahub.models import Area

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Error messages are translated; these tests read the English ones."""
    with translation.override("en"):
        yield


BOROUGHS = AreaMapping(code_prop="boro_name", name_prop="boro_name", level="district", code_prefix="nyc-")
NEIGHBOURHOODS = AreaMapping(
    code_prop="{borough}/{neighborhood}",
    name_prop="neighborhood",
    level="community",
    code_prefix="nyc-",
    parent_code_prop="borough",
    parent_code_prefix="nyc-",
)


def _fc(features, crs=None):
    data = {"type": "FeatureCollection", "features": features}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    return data


def _feature(props, coords, kind="Polygon"):
    return {"type": "Feature", "properties": props, "geometry": {"type": kind, "coordinates": coords}}


def _square(x, y, s):
    return [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]


@pytest.fixture
def nyc(data_dir):
    return data_dir / "nyc_311_sample_and_boundaries"


def test_it_imports_the_nyc_boroughs_and_neighbourhoods_as_a_tree(nyc):
    boroughs = area_import_geojson(path=nyc / "nyc_borough_boundaries.geojson", mapping=BOROUGHS)
    hoods = area_import_geojson(path=nyc / "nyc_neighborhoods.geojson", mapping=NEIGHBOURHOODS)
    assert (boroughs.created, len(hoods.codes)) == (5, hoods.created)
    # 310 features, some neighbourhoods published in several parts: one area each.
    assert Area.objects.filter(level="community").count() == len(hoods.codes) > 250
    allerton = Area.objects.get(code="nyc-Bronx/Allerton")
    assert allerton.parent.code == "nyc-Bronx"
    assert allerton.geometry.geom_type == "MultiPolygon"  # the file has Polygons
    assert allerton.geometry.contains(allerton.centroid)
    # Point-in-area on the real boundaries: a point in Allerton (Bronx).
    found = facade.area_locate(lon=-73.86, lat=40.865)
    assert (found["district"].code, found["community"].code) == ("nyc-Bronx", "nyc-Bronx/Allerton")


def test_it_is_idempotent_on_a_second_import(nyc):
    area_import_geojson(path=nyc / "nyc_borough_boundaries.geojson", mapping=BOROUGHS)
    again = area_import_geojson(path=nyc / "nyc_borough_boundaries.geojson", mapping=BOROUGHS)
    assert (again.created, again.updated) == (0, 5)
    assert Area.objects.filter(code__startswith="nyc-").count() == 5


def test_it_reprojects_a_file_in_web_mercator():
    poly = Polygon(((120.0, 30.0), (120.01, 30.0), (120.01, 30.01), (120.0, 30.01), (120.0, 30.0)), srid=4326)
    poly.transform(3857)
    data = _fc([_feature({"code": "m1", "name": "墨卡托区"}, [list(map(list, poly.coords[0]))])], crs="EPSG:3857")
    result = area_import_geojson(data=data, mapping=AreaMapping(code_prop="code", name_prop="name", level="district"))
    assert result.source_srid == 3857
    x0, y0, x1, y1 = Area.objects.get(code="m1").geometry.extent
    assert (x0, y0, x1, y1) == pytest.approx((120.0, 30.0, 120.01, 30.01), abs=1e-7)


def test_it_reads_cgcs2000_declared_as_an_ogc_urn():
    data = _fc(
        [_feature({"code": "c1", "name": "国家2000"}, _square(116.3, 39.9, 0.01))], crs="urn:ogc:def:crs:EPSG::4490"
    )
    result = area_import_geojson(data=data, mapping=AreaMapping(code_prop="code", name_prop="name", level="district"))
    assert result.source_srid == 4490
    # CGCS2000 and WGS84 agree to centimetres: still lon/lat order, same place.
    assert Area.objects.get(code="c1").geometry.extent == pytest.approx((116.3, 39.9, 116.31, 39.91), abs=1e-6)


def test_it_converts_gcj02_coordinates_when_asked():
    wgs = [(120.0, 30.0), (120.01, 30.0), (120.01, 30.01), (120.0, 30.01), (120.0, 30.0)]
    gcj = [list(wgs84_to_gcj02(x, y)) for x, y in wgs]
    data = _fc([_feature({"code": "g1", "name": "火星"}, [gcj])])
    area_import_geojson(data=data, mapping=AreaMapping(code_prop="code", name_prop="name", level="grid", gcj02=True))
    coords = Area.objects.get(code="g1").geometry[0].exterior_ring.coords
    for (x, y), (ex, ey) in zip(coords, wgs, strict=True):
        assert (x, y) == pytest.approx((ex, ey), abs=1e-8)


def test_it_reads_the_level_from_a_property_through_a_map():
    data = _fc(
        [
            _feature({"id": "a", "n": "A", "kind": "borough"}, _square(0, 0, 1)),
            _feature({"id": "b", "n": "B", "kind": "block", "up": "a"}, _square(0, 0, 0.5)),
        ]
    )
    mapping = AreaMapping(
        code_prop="id",
        name_prop="n",
        level_prop="kind",
        level_map={"borough": "district", "block": "grid"},
        parent_code_prop="up",
    )
    area_import_geojson(data=data, mapping=mapping)
    assert Area.objects.get(code="b").level == "grid"
    assert Area.objects.get(code="b").parent.code == "a"


@pytest.mark.parametrize(
    ("features", "mapping_kw", "message"),
    [
        ([_feature({"name": "x"}, _square(0, 0, 1))], {}, "feature 0, property 'code': is missing"),
        (
            [_feature({"code": "a", "name": "x"}, _square(0, 0, 1)), _feature({"code": "b"}, _square(0, 0, 1))],
            {},
            "feature 1, property 'name': is missing",
        ),
        (
            [_feature({"code": "a", "name": "x"}, [1, 2], "Point")],
            {},
            "feature 0, property 'geometry': geometry is a Point",
        ),
        (
            [_feature({"code": "a", "name": "x"}, [[[0, 0], [1]]])],
            {},
            "feature 0, property 'geometry': invalid geometry",
        ),
        ([_feature({"code": "a", "name": "x"}, _square(500, 0, 1))], {}, "outside WGS84 bounds"),
        (
            [_feature({"code": "a", "name": "x"}, [[[0, 0], [float("nan"), 0], [1, 1], [0, 0]]])],
            {},
            "feature 0, property 'geometry'",
        ),
        (
            [_feature({"code": "a", "name": "x", "p": "nowhere"}, _square(0, 0, 1))],
            {"parent_code_prop": "p"},
            "parent code 'nowhere'",
        ),
        (
            [
                _feature({"code": "a", "name": "x", "p": "b"}, _square(0, 0, 1)),
                _feature({"code": "b", "name": "y", "p": "a"}, _square(0, 0, 1)),
            ],
            {"parent_code_prop": "p"},
            "its own ancestor",
        ),
        (
            [
                _feature({"code": "a", "name": "x"}, _square(0, 0, 1)),
                _feature({"code": "a", "name": "y"}, _square(2, 2, 1)),
            ],
            {},
            "feature 1, property 'code': code 'a' repeats feature 0 with another name",
        ),
    ],
)
def test_it_refuses_bad_features_and_writes_nothing(features, mapping_kw, message):
    # A valid feature first: the import is atomic, so it must not be left behind either.
    data = _fc([_feature({"code": "ok", "name": "fine"}, _square(0, 0, 1)), *features])
    data["features"] = (
        data["features"][1:] if message.startswith("feature 0") or "feature 1" in message else data["features"]
    )
    with pytest.raises(AreaImportError) as err:
        area_import_geojson(
            data=data, mapping=AreaMapping(code_prop="code", name_prop="name", level="district", **mapping_kw)
        )
    assert message in str(err.value)
    assert not Area.objects.exists()


def test_it_refuses_an_unknown_crs():
    data = _fc([_feature({"code": "a", "name": "x"}, _square(0, 0, 1))], crs="LOCAL:grid")
    with pytest.raises(AreaImportError, match="property 'crs': unsupported CRS"):
        area_import_geojson(data=data, mapping=AreaMapping(code_prop="code", name_prop="name", level="district"))


def test_it_refuses_an_unknown_level():
    with pytest.raises(AreaImportError, match="unknown level 'county'"):
        area_import_geojson(data=_fc([]), mapping=AreaMapping(code_prop="c", name_prop="n", level="county"))


def test_it_names_line_and_column_of_a_truncated_file(tmp_path, nyc):
    bad = tmp_path / "cut.geojson"
    bad.write_bytes((nyc / "nyc_borough_boundaries.geojson").read_bytes()[:5000])
    with pytest.raises(AreaImportError, match=r"not valid JSON at line 1, column \d+"):
        area_import_geojson(path=bad, mapping=BOROUGHS)
    assert not Area.objects.exists()


def test_it_refuses_json_that_is_not_a_feature_collection(tmp_path):
    f = tmp_path / "list.geojson"
    f.write_text(json.dumps([1, 2, 3]))
    with pytest.raises(AreaImportError, match="not a GeoJSON object"):
        area_import_geojson(path=f, mapping=BOROUGHS)


def test_the_command_imports_and_reports_bad_files(nyc, tmp_path):
    call_command(
        "import_areas",
        str(nyc / "nyc_borough_boundaries.geojson"),
        "--code-prop",
        "boro_name",
        "--name-prop",
        "boro_name",
        "--level",
        "district",
        "--code-prefix",
        "nyc-",
    )
    assert Area.objects.filter(code="nyc-Queens").exists()
    with pytest.raises(CommandError, match="property 'nope': is missing"):
        call_command(
            "import_areas",
            str(nyc / "nyc_borough_boundaries.geojson"),
            "--code-prop",
            "nope",
            "--name-prop",
            "boro_name",
            "--level",
            "district",
        )


def test_it_keeps_an_areas_place_when_a_file_has_no_parent_mapping():
    parent = Area.objects.create(code="P", name="父", level="city")
    Area.objects.create(code="a", name="旧", level="district", parent=parent)
    area_import_geojson(
        data=_fc([_feature({"code": "a", "name": "新"}, _square(0, 0, 1))]),
        mapping=AreaMapping(code_prop="code", name_prop="name", level="district"),
    )
    a = Area.objects.get(code="a")
    assert (a.name, a.parent_id) == ("新", parent.id)
    assert a.geometry.contains(Point(0.5, 0.5, srid=4326))


def test_it_refuses_a_file_that_is_not_utf8(tmp_path):
    f = tmp_path / "gbk.geojson"
    f.write_bytes(
        json.dumps(_fc([_feature({"code": "a", "name": "江南区"}, _square(0, 0, 1))]), ensure_ascii=False).encode("gbk")
    )
    with pytest.raises(AreaImportError, match="not UTF-8 JSON"):
        area_import_geojson(path=f, mapping=AreaMapping(code_prop="code", name_prop="name", level="district"))


def test_it_drops_heights_from_3d_coordinates():
    ring = [[x, y, 12.5] for x, y in _square(0, 0, 1)[0]]
    area_import_geojson(
        data=_fc([_feature({"code": "z", "name": "Z"}, [ring])]),
        mapping=AreaMapping(code_prop="code", name_prop="name", level="grid"),
    )
    geometry = Area.objects.get(code="z").geometry
    assert not geometry.hasz
    assert geometry.extent == (0, 0, 1, 1)
