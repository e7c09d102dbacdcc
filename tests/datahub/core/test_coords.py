import pytest

from datahub.core.coords import gcj02_to_wgs84, srid_from_crs_name, wgs84_to_gcj02

# Published reference pairs (the eviltransform project's test vectors): WGS84 → GCJ-02.
PAIRS = [
    # (wgs lon, wgs lat, gcj lon, gcj lat)
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), PAIRS)
def test_it_converts_wgs84_to_gcj02_like_the_reference(wlon, wlat, glon, glat):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), PAIRS)
def test_it_inverts_gcj02_to_wgs84_to_within_a_millimetre(wlon, wlat, glon, glat):
    lon, lat = gcj02_to_wgs84(glon, glat)
    # 1e-8° is ~1 mm; the one-step inverse is off by 1–2 m (~1e-5°).
    assert lon == pytest.approx(wlon, abs=1e-8)
    assert lat == pytest.approx(wlat, abs=1e-8)


def test_it_leaves_points_outside_china_alone():
    assert gcj02_to_wgs84(-73.98, 40.75) == (-73.98, 40.75)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)


@pytest.mark.parametrize(
    ("name", "srid"),
    [
        ("EPSG:3857", 3857),
        ("urn:ogc:def:crs:EPSG::4490", 4490),
        ("urn:ogc:def:crs:EPSG:6.6:4326", 4326),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", 4326),
    ],
)
def test_it_reads_epsg_codes_from_geojson_crs_names(name, srid):
    assert srid_from_crs_name(name) == srid


def test_it_refuses_a_crs_name_it_does_not_know():
    with pytest.raises(ValueError, match="unsupported CRS"):
        srid_from_crs_name("my-local-grid")
