"""Writes for administrative areas: import boundaries from any GeoJSON file with a property mapping.

    area_import_geojson(path=…, mapping=AreaMapping(code_prop="{boro_name}", name_prop="boro_name",
                        level="district", code_prefix="nyc-"))

The import is atomic (one transaction: a bad feature leaves nothing behind) and idempotent (upsert by
code). Polygons become MultiPolygons, a CRS the file declares (`crs` member) is reprojected to WGS84
with GDAL, and `gcj02=True` converts Chinese web-map coordinates (GCJ-02) to WGS84.
"""

import json
import logging
import math
import string
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Polygon, WKBWriter
from django.db import connection, transaction
from django.utils.translation import gettext as _

from datahub.core.coords import gcj02_to_wgs84, srid_from_crs_name
from datahub.core.models import Area
from datahub.core.selectors import gazetteer as gazetteer_cache

# 200 MB: the largest boundary files cities publish (all of China's counties) are ~150 MB as GeoJSON.
MAX_GEOJSON_BYTES = 200 * 1024 * 1024
LEVELS = {c.value for c in Area.Level}


class AreaImportError(ValueError):
    """A file the importer refuses; `feature` (0-based index) and `prop` name where it went wrong."""

    def __init__(self, message: str, *, feature: int | None = None, prop: str | None = None):
        self.feature, self.prop = feature, prop
        parts = [_("feature %(n)d") % {"n": feature}] if feature is not None else []
        if prop:
            parts.append(_("property '%(p)s'") % {"p": prop})
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


@dataclass(frozen=True)
class AreaMapping:
    """Which feature properties hold the area's fields.

    `code_prop`, `parent_code_prop`: a property name, or a template over properties such as
    "{borough}/{neighborhood}" (for files without codes: the NYC files have names only).
    `level_prop` names the property with the level (values mapped through `level_map` first);
    otherwise every feature gets the fixed `level`. `parent_code` is a fixed parent for all.
    """

    code_prop: str
    name_prop: str
    name_en_prop: str | None = None
    level: str | None = None
    level_prop: str | None = None
    level_map: dict[str, str] = field(default_factory=dict)
    parent_code_prop: str | None = None
    parent_code: str | None = None
    code_prefix: str = ""
    parent_code_prefix: str = ""
    gcj02: bool = False
    population_prop: str | None = None


@dataclass(frozen=True)
class AreaImportResult:
    created: int
    updated: int
    codes: list[str]
    source_srid: int


def _value(props: dict, spec: str, *, index: int, required: bool = True) -> str:
    """A property's value, or a "{a}-{b}" template filled from properties."""
    if "{" in spec:
        try:
            names = [f for _t, f, _s, _c in string.Formatter().parse(spec) if f]
        except ValueError as exc:
            raise AreaImportError(_("bad template: %(e)s") % {"e": exc}, prop=spec) from exc
        for n in names:
            if props.get(n) in (None, ""):
                raise AreaImportError(_("is missing or empty"), feature=index, prop=n)
        return spec.format(**{n: str(props[n]).strip() for n in names}).strip()
    value = props.get(spec)
    if value is None or str(value).strip() == "":
        if required:
            raise AreaImportError(_("is missing or empty"), feature=index, prop=spec)
        return ""
    return str(value).strip()


@contextmanager
def _quiet_geos():
    # GEOS logs a WARNING per invalid ring while we test validity (NYC's files have dozens); the
    # invalid ones are repaired right after, so the notices are noise.
    log = logging.getLogger("django.contrib.gis")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _to_multipolygon(geom: GEOSGeometry, index: int) -> MultiPolygon:
    try:
        with _quiet_geos():
            valid = geom.valid
        if not valid:
            geom = geom.make_valid()  # self-intersections are common in hand-drawn boundaries
    except GEOSException as exc:  # e.g. NaN coordinates (Python's json accepts NaN)
        raise AreaImportError(_("invalid geometry: %(e)s") % {"e": exc}, feature=index, prop="geometry") from exc
    if isinstance(geom, Polygon):
        return MultiPolygon(geom, srid=geom.srid)
    if isinstance(geom, MultiPolygon):
        return geom
    if geom.geom_type == "GeometryCollection":  # what make_valid returns for bow-ties with slivers
        polys = [g for g in geom if isinstance(g, Polygon)] + [
            p for g in geom if isinstance(g, MultiPolygon) for p in g
        ]
        if polys:
            return MultiPolygon(*polys, srid=geom.srid)
    raise AreaImportError(
        _("geometry is a %(type)s; areas need a Polygon or MultiPolygon") % {"type": geom.geom_type},
        feature=index,
        prop="geometry",
    )


def _drop_z(geom: GEOSGeometry) -> GEOSGeometry:
    writer = WKBWriter()
    writer.outdim = 2
    return GEOSGeometry(writer.write(geom), srid=geom.srid)


def _gcj02_fix(geom: MultiPolygon) -> MultiPolygon:
    polys = []
    for poly in geom:
        rings = [[gcj02_to_wgs84(x, y) for x, y, *_z in ring.coords] for ring in poly]
        polys.append(Polygon(*rings))
    return MultiPolygon(*polys, srid=4326)


def read_geojson(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise AreaImportError(_("file %(path)s not found") % {"path": p})
    if p.stat().st_size > MAX_GEOJSON_BYTES:
        raise AreaImportError(_("file is larger than %(mb)d MB") % {"mb": MAX_GEOJSON_BYTES // 2**20})
    return parse_geojson(p.read_bytes())


def parse_geojson(raw: bytes) -> Any:
    """Decode a GeoJSON file's bytes, naming the byte, line and column where it is broken."""
    if len(raw) > MAX_GEOJSON_BYTES:
        raise AreaImportError(_("file is larger than %(mb)d MB") % {"mb": MAX_GEOJSON_BYTES // 2**20})
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise AreaImportError(_("file is not UTF-8 JSON (byte %(pos)d)") % {"pos": exc.start}) from exc
    except json.JSONDecodeError as exc:
        raise AreaImportError(
            _("not valid JSON at line %(line)d, column %(col)d: %(msg)s")
            % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
        ) from exc


def _features(data: Any) -> list[dict]:
    if not isinstance(data, dict):
        raise AreaImportError(_("the file is not a GeoJSON object"))
    if data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        return data["features"]
    if data.get("type") == "Feature":
        return [data]
    raise AreaImportError(_("the file is not a GeoJSON FeatureCollection (no 'features' list)"))


def _source_srid(data: dict) -> int:
    crs = data.get("crs")
    if not crs:
        return 4326  # RFC 7946: GeoJSON without a `crs` member is WGS84 lon/lat
    name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    if not name:
        raise AreaImportError(_("the 'crs' member has no properties.name"), prop="crs")
    try:
        return srid_from_crs_name(name)
    except ValueError as exc:
        raise AreaImportError(str(exc), prop="crs") from exc


def area_import_geojson(
    *, path: str | Path | None = None, data: dict | None = None, mapping: AreaMapping
) -> AreaImportResult:
    """Upsert every feature of a GeoJSON file as an Area; all or nothing."""
    if mapping.level is None and mapping.level_prop is None:
        raise AreaImportError(_("give a fixed level or the property that holds it"), prop="level")
    if mapping.level is not None and mapping.level not in LEVELS:
        raise AreaImportError(
            _("unknown level %(level)r (one of %(levels)s)")
            % {"level": mapping.level, "levels": ", ".join(sorted(LEVELS))},
            prop="level",
        )
    if data is None:
        if path is None:
            raise AreaImportError(_("no file given"))
        data = read_geojson(path)
    features = _features(data)
    if not features:
        raise AreaImportError(_("the file has no features"))
    srid = _source_srid(data)

    rows: dict[str, dict] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise AreaImportError(_("is not a GeoJSON Feature"), feature=index)
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise AreaImportError(_("properties must be an object"), feature=index, prop="properties")
        code = mapping.code_prefix + _value(props, mapping.code_prop, index=index)
        if len(code) > 64:
            raise AreaImportError(
                _("code %(code)r is longer than 64 characters") % {"code": code}, feature=index, prop=mapping.code_prop
            )
        name = _value(props, mapping.name_prop, index=index)[:200]
        if code in rows and rows[code]["name"] != name:
            raise AreaImportError(
                _("code %(code)r repeats feature %(other)d with another name")
                % {"code": code, "other": rows[code]["index"]},
                feature=index,
                prop=mapping.code_prop,
            )
        name_en = _value(props, mapping.name_en_prop, index=index, required=False)[:200] if mapping.name_en_prop else ""
        if mapping.level_prop:
            raw = _value(props, mapping.level_prop, index=index)
            level = mapping.level_map.get(raw, raw)
            if level not in LEVELS:
                raise AreaImportError(
                    _("level %(level)r is not one of %(levels)s") % {"level": raw, "levels": ", ".join(sorted(LEVELS))},
                    feature=index,
                    prop=mapping.level_prop,
                )
        else:
            level = mapping.level
        parent = mapping.parent_code
        if mapping.parent_code_prop:
            value = _value(props, mapping.parent_code_prop, index=index, required=False)
            parent = mapping.parent_code_prefix + value if value else parent
        population = None
        if mapping.population_prop and props.get(mapping.population_prop) not in (None, ""):
            try:
                population = int(float(props[mapping.population_prop]))
            except (TypeError, ValueError) as exc:
                raise AreaImportError(_("is not a number"), feature=index, prop=mapping.population_prop) from exc
        geometry = feature.get("geometry")
        if geometry is None:
            geom = None  # an area without a boundary is legal (gazetteer entries)
        else:
            try:
                geom = GEOSGeometry(json.dumps(geometry))
            except (GDALException, GEOSException, ValueError, TypeError) as exc:
                raise AreaImportError(
                    _("invalid geometry: %(e)s") % {"e": exc}, feature=index, prop="geometry"
                ) from exc
            geom.srid = srid
            if geom.hasz:
                geom = _drop_z(geom)  # heights (common in CAD/GIS exports) do not fit the 2-D column
            geom = _to_multipolygon(geom, index)
            if srid != 4326:
                try:
                    geom.transform(4326)
                except (GDALException, GEOSException) as exc:
                    raise AreaImportError(
                        _("cannot reproject from EPSG:%(srid)d: %(e)s") % {"srid": srid, "e": exc}, prop="crs"
                    ) from exc
                geom = _to_multipolygon(geom, index)
            if mapping.gcj02:
                geom = _gcj02_fix(geom)
            x0, y0, x1, y1 = geom.extent
            if not all(map(math.isfinite, (x0, y0, x1, y1))) or x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
                raise AreaImportError(
                    _("coordinates are outside WGS84 bounds; does the file declare its CRS?"),
                    feature=index,
                    prop="geometry",
                )
        if code in rows:
            # One area published as several features (NYC's "Bayswater" is two polygons): one area,
            # the union of its parts.
            prev = rows[code]["geometry"]
            if prev is not None and geom is not None:
                geom = _to_multipolygon(prev.union(geom), index)
            geom = geom or prev
        rows[code] = {
            "index": rows[code]["index"] if code in rows else index,
            "name": name,
            "name_en": name_en,
            "level": level,
            "parent": parent,
            "geometry": geom,
            "population": population,
            "attributes": {k: v for k, v in props.items() if isinstance(v, str | int | float | bool) or v is None},
        }

    with transaction.atomic():
        existing = {a.code: a for a in Area.objects.filter(code__in=list(rows))}
        parent_codes = {r["parent"] for r in rows.values() if r["parent"] and r["parent"] not in rows}
        known_parents = dict(Area.objects.filter(code__in=parent_codes).values_list("code", "id"))
        for code, r in rows.items():
            if r["parent"] and r["parent"] not in rows and r["parent"] not in known_parents:
                raise AreaImportError(
                    _("parent code %(parent)r of %(code)r is neither in the file nor in the database")
                    % {"parent": r["parent"], "code": code},
                    feature=r["index"],
                    prop=mapping.parent_code_prop or "parent_code",
                )
        fields = ["name", "name_en", "level", "geometry", "attributes"]
        to_create, to_update = [], []
        for code, r in rows.items():
            area = existing.get(code) or Area(code=code)
            for f in fields:
                if f == "geometry" and r[f] is None and area.pk:
                    continue  # a file without a boundary for an area keeps the one it has
                setattr(area, f, r[f])
            if r["population"] is not None:
                area.population = r["population"]
            (to_update if area.pk else to_create).append(area)
        Area.objects.bulk_create(to_create, batch_size=1000)
        if to_update:
            Area.objects.bulk_update(to_update, [*fields, "population"], batch_size=500)
        ids = dict(Area.objects.filter(code__in=list(rows)).values_list("code", "id"))
        ids.update(known_parents)
        with connection.cursor() as cur:
            # Without a parent mapping, existing areas keep their place in the tree.
            has_parent_mapping = bool(mapping.parent_code_prop or mapping.parent_code)
            pairs = [
                (ids[code], ids[r["parent"]] if r["parent"] else None)
                for code, r in rows.items()
                if has_parent_mapping or code not in existing
            ]
            cur.execute(
                "UPDATE datahub_area a SET parent_id = v.parent_id "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, parent_id) WHERE a.id = v.id",
                [[p[0] for p in pairs], [p[1] for p in pairs]],
            )
            _refuse_cycles(cur, list(ids.values()))
            cur.execute(
                # ST_PointOnSurface, not ST_Centroid: a map label or "where is it" pin must fall inside the
                # area, and centroids of C-shaped or multi-part areas (Brooklyn, islands) fall outside.
                "UPDATE datahub_area SET centroid = ST_PointOnSurface(geometry) WHERE id = ANY(%s) AND geometry IS NOT NULL",
                [[ids[c] for c in rows]],
            )
        gazetteer_cache.bump()
    return AreaImportResult(created=len(to_create), updated=len(to_update), codes=list(rows), source_srid=srid)


def _refuse_cycles(cur, ids: list[int]) -> None:
    """A file whose parent codes loop (A's parent B, B's parent A) would make the tree endless."""
    cur.execute(
        """
        WITH RECURSIVE up(start, id, depth) AS (
            SELECT id, parent_id, 1 FROM datahub_area WHERE id = ANY(%s) AND parent_id IS NOT NULL
            UNION ALL
            SELECT up.start, a.parent_id, up.depth + 1 FROM up JOIN datahub_area a ON a.id = up.id
            WHERE a.parent_id IS NOT NULL AND up.id <> up.start AND up.depth < 64
        )
        SELECT a.code FROM up JOIN datahub_area a ON a.id = up.start WHERE up.id = up.start LIMIT 1
        """,
        [ids],
    )
    row = cur.fetchone()
    if row:
        raise AreaImportError(
            _("area %(code)r would be its own ancestor (parent codes form a loop)") % {"code": row[0]}
        )
