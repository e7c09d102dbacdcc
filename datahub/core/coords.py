"""Coordinate helpers: CRS detection for GeoJSON files and GCJ-02 ("Mars coordinates") to WGS84.

GCJ-02 is the obfuscated datum that Chinese web maps (AMap/Gaode, Tencent, Google China) publish:
WGS84 points moved by a smooth, non-linear offset of 100–700 m. The forward formula (WGS84 → GCJ-02)
is public; there is no closed-form inverse, so `gcj02_to_wgs84` solves it by fixed-point iteration
(each step subtracts the residual), which converges to < 1e-9° (~0.1 mm) in 3–6 steps.
"""

import math
import re

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it
_EE = 0.00669342162296594323  # its first eccentricity squared


def out_of_china(lon: float, lat: float) -> bool:
    """GCJ-02 only shifts points inside this box; outside it the two datums coincide."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform(x: float, y: float) -> tuple[float, float]:
    xy, absx = x * y, math.sqrt(abs(x))
    xpi, ypi = x * math.pi, y * math.pi
    d = 20.0 * math.sin(6.0 * xpi) + 20.0 * math.sin(2.0 * xpi)
    lat = d + 20.0 * math.sin(ypi) + 40.0 * math.sin(ypi / 3.0)
    lon = d + 20.0 * math.sin(xpi) + 40.0 * math.sin(xpi / 3.0)
    lat += 160.0 * math.sin(ypi / 12.0) + 320 * math.sin(ypi / 30.0)
    lon += 150.0 * math.sin(xpi / 12.0) + 300.0 * math.sin(xpi / 30.0)
    lat *= 2.0 / 3.0
    lon *= 2.0 / 3.0
    lat += -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * absx
    lon += 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * absx
    return lon, lat


def _delta(lon: float, lat: float) -> tuple[float, float]:
    dlon, dlat = _transform(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float, *, tolerance: float = 1e-9, max_iterations: int = 30) -> tuple[float, float]:
    """The exact inverse of `wgs84_to_gcj02`, by iteration (the one-step inverse is off by 1–2 m)."""
    if out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(max_iterations):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        if abs(elon) < tolerance and abs(elat) < tolerance:
            break
        wlon, wlat = wlon - elon, wlat - elat
    return wlon, wlat


_EPSG = re.compile(r"EPSG:{1,2}(?:[\d.]*:)?(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(r"(OGC:(?:1\.3:)?CRS84|CRS:84)$", re.IGNORECASE)


def srid_from_crs_name(name: str) -> int:
    """EPSG code of a GeoJSON `crs` name: "EPSG:3857", "urn:ogc:def:crs:EPSG::4490", "…OGC:1.3:CRS84".

    Raises ValueError for a name it does not understand (never guesses a datum).
    """
    name = (name or "").strip()
    if _CRS84.search(name):
        return 4326
    m = _EPSG.search(name)
    if not m:
        raise ValueError(f"unsupported CRS name {name!r} (expected e.g. EPSG:3857 or urn:ogc:def:crs:EPSG::4490)")
    return int(m.group(1))
