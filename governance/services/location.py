"""Where a case is: a point -> district, street and grid (PostGIS point-in-polygon through the facade);
an address or place name without a point -> the areas whose names it mentions (gazetteer)."""

import json
import threading
import time
from dataclasses import dataclass, field

from django.contrib.gis.geos import GEOSGeometry, Point

from datahub import facade

# Most specific first: a case's `area` is the first level found in this order.
LEVEL_ORDER = ("grid", "community", "street", "district", "city", "province", "other")


@dataclass
class Located:
    district_id: int | None = None
    street_id: int | None = None
    grid_id: int | None = None
    area_id: int | None = None
    method: str = "none"
    names: list[str] = field(default_factory=list)


def _from_levels(found: dict, method: str) -> Located:
    out = Located(method=method)
    out.district_id = found["district"].id if "district" in found else None
    out.street_id = found["street"].id if "street" in found else None
    out.grid_id = found["grid"].id if "grid" in found else None
    for level in LEVEL_ORDER:
        if level in found:
            out.area_id = found[level].id
            break
    out.names = [found[level].name for level in reversed(LEVEL_ORDER) if level in found]
    return out


# Point-in-polygon in process: the boundaries of up to MAX_CACHED_AREAS areas are kept as GEOS
# prepared geometries (refreshed with the gazetteer); a lookup is a bbox scan plus one or two
# prepared `contains` (~0.05 ms) instead of a PostGIS round trip (~1–5 ms on a busy machine).
MAX_CACHED_AREAS = 20_000
# Per thread: GEOS objects must not be shared between threads (daphne runs sync views in a pool).
_spatial_local = threading.local()
_spatial_epoch = {"n": 0}


def _spatial_index():
    _spatial = _spatial_local.__dict__
    _spatial.setdefault("at", -1e9)
    now = time.monotonic()
    if now - _spatial["at"] > GAZETTEER_TTL_S or _spatial.get("epoch") != _spatial_epoch["n"]:
        levels = []
        total = 0
        for level in ("grid", "community", "street", "district"):
            rows = facade.area_geometries(level=level, simplify=0)
            total += len(rows)
            if total > MAX_CACHED_AREAS:
                levels = None
                break
            entries = []
            for row in rows:
                geom = GEOSGeometry(json.dumps(row["geometry"]), srid=4326)
                entries.append((geom.extent, geom.prepared, row["id"]))
            if entries:
                levels.append(entries)
        _spatial.update(at=now, levels=levels, epoch=_spatial_epoch["n"])
    return _spatial["levels"]


def location_from_point(*, lon: float, lat: float) -> Located:
    levels = _spatial_index()
    if levels is None:  # too many areas to hold in memory: ask PostGIS
        found = facade.area_locate(lon=lon, lat=lat)
        return _from_levels(found, "point") if found else Located(method="point")
    point = Point(lon, lat, srid=4326)
    for entries in levels:  # most specific level first
        for (x0, y0, x1, y1), prepared, area_id in entries:
            if x0 <= lon <= x1 and y0 <= lat <= y1 and prepared.covers(point):
                return _from_levels(_ancestors(area_id), "point")
    return Located(method="point")


def area_chain_ids(area_id: int) -> list[int]:
    """The area and its ancestors' ids, most specific first (from the in-process gazetteer)."""
    by_id = _load()["by_id"]
    if area_id not in by_id:
        return [a.id for a in facade.area_ancestors(area_id=area_id)]
    out, area = [], by_id.get(area_id)
    while area is not None and area.id not in out:
        out.append(area.id)
        area = by_id.get(area.parent_id) if area.parent_id else None
    return out


# Areas change a few times a year; the area tree used for ancestors is re-read at most once a
# minute per process (a rebuild reads ~150–500 areas in 4 queries), not on every case.
GAZETTEER_TTL_S = 60
_gazetteer: dict = {"at": -1e9, "by_id": {}}


def _load() -> dict:
    now = time.monotonic()
    if now - _gazetteer["at"] > GAZETTEER_TTL_S:
        areas = []
        for level in ("city", "district", "street", "community", "grid"):
            areas += facade.area_list(level=level)
        _gazetteer.update(at=now, by_id={a.id: a for a in areas})
    return _gazetteer


def gazetteer_reset() -> None:
    _gazetteer["at"] = -1e9
    _spatial_epoch["n"] += 1  # every thread rebuilds its spatial index on next use


def _ancestors(area_id: int) -> dict:
    by_id = _load()["by_id"]
    found, area, seen = {}, by_id.get(area_id), set()
    if area is None:  # not in the cached levels: ask the datahub
        return {a.level: a for a in facade.area_ancestors(area_id=area_id)}
    while area is not None and area.id not in seen:
        seen.add(area.id)
        found.setdefault(area.level, area)
        area = by_id.get(area.parent_id) if area.parent_id else None
    return found


def location_from_text(*, text: str) -> Located:
    """Find the most specific area named in an address or place name, and its ancestors.

    Names are matched by the datahub's gazetteer (Chinese and English, longest match first,
    ambiguous names resolved by the other places in the text); a city name alone locates nothing.
    """
    named = [a for a in facade.area_match_text(text=text) if a.level != "city"]
    if not named:
        return Located(method="address")
    best = min(named, key=lambda a: LEVEL_ORDER.index(a.level) if a.level in LEVEL_ORDER else 99)
    return _from_levels(_ancestors(best.id), "address")


def case_locate(*, lon: float | None, lat: float | None, address: str = "") -> Located:
    if lon is not None and lat is not None:
        loc = location_from_point(lon=lon, lat=lat)
        if loc.area_id:
            return loc
    if address:
        return location_from_text(text=address)
    return Located()


def cases_relocate(*, batch_size: int = 2000) -> int:
    """Locate cases that have a point but no area yet (e.g. imported before their city's boundaries
    were loaded). Returns how many were located. Safe to run twice: located cases are skipped."""
    from governance.models import Case

    gazetteer_reset()  # the boundaries may have just been imported
    located = 0
    last_id = 0
    while True:
        batch = list(
            Case.objects.filter(id__gt=last_id, area__isnull=True, location__isnull=False)
            .only("id", "location")
            .order_by("id")[:batch_size]
        )
        if not batch:
            return located
        last_id = batch[-1].id
        changed = []
        for case in batch:
            loc = location_from_point(lon=case.location.x, lat=case.location.y)
            if loc.area_id:
                case.district_id, case.street_id, case.grid_id, case.area_id = (
                    loc.district_id,
                    loc.street_id,
                    loc.grid_id,
                    loc.area_id,
                )
                changed.append(case)
        Case.objects.bulk_update(changed, ["district", "street", "grid", "area"], batch_size=batch_size)
        located += len(changed)
