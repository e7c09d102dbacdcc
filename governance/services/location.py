"""Where a case is: a point -> district, street and grid (PostGIS point-in-polygon through the facade);
an address or place name without a point -> the areas whose names it mentions (gazetteer)."""

from dataclasses import dataclass, field

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


def location_from_point(*, lon: float, lat: float) -> Located:
    found = facade.area_locate(lon=lon, lat=lat)
    return _from_levels(found, "point") if found else Located(method="point")


_gazetteer: dict = {"key": None, "entries": []}


def _entries() -> list:
    """Area names longest first (so 长安街道 matches before 长安), for district/street/grid/community."""
    areas = []
    for level in ("district", "street", "community", "grid"):
        areas += facade.area_list(level=level)
    key = (len(areas), max((a.id for a in areas), default=0))
    if _gazetteer["key"] != key:
        names = []
        for a in areas:
            for n in {a.name, a.name_en}:
                if n and len(n) >= 2:
                    names.append((n.lower(), a))
        names.sort(key=lambda p: -len(p[0]))
        _gazetteer.update(key=key, entries=names)
    return _gazetteer["entries"]


def location_from_text(*, text: str) -> Located:
    """Find the most specific area named in an address or place name, and its ancestors."""
    low = text.lower()
    best = None
    for name, area in _entries():
        if name in low:
            rank = LEVEL_ORDER.index(area.level) if area.level in LEVEL_ORDER else 99
            if best is None or rank < best[0]:
                best = (rank, area)
    if best is None:
        return Located(method="address")
    found = {a.level: a for a in facade.area_ancestors(area_id=best[1].id)}
    return _from_levels(found, "address")


def case_locate(*, lon: float | None, lat: float | None, address: str = "") -> Located:
    if lon is not None and lat is not None:
        loc = location_from_point(lon=lon, lat=lat)
        if loc.area_id:
            return loc
    if address:
        return location_from_text(text=address)
    return Located()
