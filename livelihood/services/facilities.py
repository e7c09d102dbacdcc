"""Facilities: import from CSV/GeoJSON through the datahub (entities, lineage, areas), opening hours.

An import reads every row, reports each bad one by row and column (missing name, NA or unreadable
coordinates), and stores the good ones in one transaction through two set-based statements: the
datahub's bulk entity upsert and a `bulk_create(update_conflicts=True)` of the facility records.
Re-importing a file updates the same facilities (the key is source + identifier), never duplicates them.
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from datahub import facade
from livelihood.models import Facility, FacilityHoursException, FacilityType

from .errors import LivelihoodError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_IMPORT_ROWS = 250_000
_NA = {"", "na", "n/a", "null", "none", "nan", "-"}

# Column names tried in order (exact spelling first, then case-insensitively) when no mapping is given.
NAME_COLUMNS = ["name", "Name", "NAME", "名称", "Facility", "FACILITY", "Branch", "Property", "Location.Description"]
ADDRESS_COLUMNS = ["Address", "ADDRESS", "address", "地址"]
LON_COLUMNS = ["lon", "Longitude", "longitude", "lng", "LON", "x", "经度"]
LAT_COLUMNS = ["lat", "Latitude", "latitude", "LAT", "y", "纬度"]
WKT_COLUMNS = ["the_geom", "New Georeferenced Column", "point", "geometry", "wkt", "WKT"]
PHONE_COLUMNS = ["phone", "Phone", "PHONE", "电话", "telephone"]
ID_COLUMNS = ["id", "ID", "code", "编号"]
_POINT_RE = re.compile(r"^\s*(?:POINT\s*)?\(\s*(-?\d+(?:\.\d+)?)[\s,]+(-?\d+(?:\.\d+)?)\s*\)\s*$", re.IGNORECASE)


@dataclass
class ImportResult:
    read: int = 0
    stored: int = 0
    created: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    run_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "read": self.read,
            "stored": self.stored,
            "created": self.created,
            "rejected": self.rejected,
            "errors": self.errors[:500],
            "run_id": self.run_id,
        }


def _pick(columns: list[str], candidates: list[str]) -> str | None:
    for c in candidates:
        if c in columns:
            return c
    lower = {c.lower().strip(): c for c in columns}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def _clean(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _float(value) -> float | None:
    text = _clean(value)
    if text.lower() in _NA:
        return None
    return float(text)  # ValueError for the caller to report


def parse_point(text: str) -> tuple[float, float] | None:
    """ "POINT (-92.45 34.76)" or "(-92.45, 34.76)" -> (lon, lat); None for NA/empty; ValueError otherwise."""
    text = _clean(text)
    if text.lower() in _NA:
        return None
    m = _POINT_RE.match(text)
    if not m:
        raise ValueError(f"unreadable point {text[:40]!r} (expected WKT POINT (lon lat))")
    return float(m.group(1)), float(m.group(2))


def _check_lonlat(lon: float, lat: float) -> None:
    if not (-180 <= lon <= 180) or not (-90 <= lat <= 90):
        raise ValueError(f"coordinates out of range ({lon}, {lat})")


def _rows_from_csv(data: bytes) -> tuple[list[str], list[dict]]:
    for encoding in ("utf-8-sig", "gb18030", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    # The delimiter is the header line's most frequent candidate: csv.Sniffer guesses quoting from a
    # sample and mis-splits long quoted descriptions (5 rows of Little Rock's Historic.csv).
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise LivelihoodError("file: no header row", field="file")
    return [f.strip() for f in reader.fieldnames], [{(k or "").strip(): v for k, v in r.items()} for r in reader]


def _rows_from_geojson(data: bytes) -> tuple[list[str], list[dict]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LivelihoodError(f"file: not valid GeoJSON ({exc})", field="file") from exc
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise LivelihoodError("file: a GeoJSON FeatureCollection with `features` is expected", field="file")
    rows, columns = [], []
    for feat in features:
        props = dict((feat or {}).get("properties") or {}) if isinstance(feat, dict) else {}
        geom = (feat or {}).get("geometry") if isinstance(feat, dict) else None
        if isinstance(geom, dict) and geom.get("type") == "Point" and isinstance(geom.get("coordinates"), list):
            coords = geom["coordinates"]
            props["__lon"], props["__lat"] = (coords + [None, None])[:2]
        else:
            props["__lon"] = props["__lat"] = None
            props["__geom_error"] = "geometry: a Point is required"
        for k in props:
            if k not in columns and not k.startswith("__"):
                columns.append(k)
        rows.append(props)
    return columns, rows


def facility_import(
    *,
    data: bytes,
    filename: str,
    type: str,  # noqa: A002
    source_code: str,
    source_name: str = "",
    mapping: dict | None = None,
    department_id: int | None = None,
    default_hours: dict | None = None,
    actor_id: int | None = None,
) -> ImportResult:
    """Import facilities of one type from a CSV or GeoJSON file; returns counts and a row/column error report.

    `mapping` may name the columns: {"name", "address", "lon", "lat", "wkt", "phone", "id"}; otherwise
    they are recognised by common names. Rows without a name or a point are rejected (and reported),
    the rest stored: a file's good rows are never held back by its bad ones.
    """
    if type not in FacilityType.values:
        raise LivelihoodError(f"type: unknown facility type {type!r}", field="type")
    suffix = Path(filename).suffix.lower()
    is_geojson = suffix in (".geojson", ".json") or data.lstrip()[:1] == b"{"
    columns, rows = _rows_from_geojson(data) if is_geojson else _rows_from_csv(data)
    if len(rows) > MAX_IMPORT_ROWS:
        raise LivelihoodError(f"file: at most {MAX_IMPORT_ROWS} rows per import", field="file")
    mapping = dict(mapping or {})
    for key in mapping:
        if key not in {"name", "address", "lon", "lat", "wkt", "phone", "id"}:
            raise LivelihoodError(f"mapping: unknown key {key!r}", field="mapping")
        if mapping[key] not in columns:
            raise LivelihoodError(f"mapping: column {mapping[key]!r} is not in the file", field="mapping")
    col = {
        "name": mapping.get("name") or _pick(columns, NAME_COLUMNS),
        "address": mapping.get("address") or _pick(columns, ADDRESS_COLUMNS),
        "lon": mapping.get("lon") or (None if is_geojson else _pick(columns, LON_COLUMNS)),
        "lat": mapping.get("lat") or (None if is_geojson else _pick(columns, LAT_COLUMNS)),
        "wkt": mapping.get("wkt") or (None if is_geojson else _pick(columns, WKT_COLUMNS)),
        "phone": mapping.get("phone") or _pick(columns, PHONE_COLUMNS),
        "id": mapping.get("id") or _pick(columns, ID_COLUMNS),
    }
    if not col["name"]:
        raise LivelihoodError("file: no name column found (map one with mapping.name)", field="mapping")
    if not is_geojson and not (col["lon"] and col["lat"]) and not col["wkt"]:
        raise LivelihoodError("file: no coordinate columns found (lon/lat or a WKT point)", field="mapping")

    source_id = facade.source_ensure(code=source_code, name=source_name or source_code, kind="government")
    result = ImportResult(read=len(rows))
    result.run_id = facade.run_start(source_id=source_id, triggered_by_id=actor_id)
    used = set(col.values())
    good: list[dict] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows, start=1):
        line = index + (0 if is_geojson else 1)  # CSV: row 1 is the header
        name = _clean(row.get(col["name"]))
        if not name or name.lower() in _NA:
            result.errors.append({"row": line, "column": col["name"], "message": "name is empty"})
            continue
        try:
            lonlat = _row_point(row, col, is_geojson)
        except ValueError as exc:
            column = col["wkt"] or col["lon"] or "geometry"
            result.errors.append({"row": line, "column": column, "message": str(exc)})
            continue
        if lonlat is None:
            column = col["lon"] or col["wkt"] or "geometry"
            result.errors.append({"row": line, "column": column, "message": "no coordinates (NA or empty)"})
            continue
        ident = _clean(row.get(col["id"])) if col["id"] else ""
        base = f"{source_code}:{ident or name.lower()}"
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base}#{seen[base]}"
        attributes = {
            k: _clean(v)
            for k, v in row.items()
            if k not in used and not k.startswith("__") and _clean(v) and _clean(v).lower() not in _NA
        }
        good.append(
            {
                "key": key[:200],
                "name": name[:300],
                "address": _clean(row.get(col["address"]))[:300] if col["address"] else "",
                "phone": _clean(row.get(col["phone"]))[:64] if col["phone"] else "",
                "lon": lonlat[0],
                "lat": lonlat[1],
                "attributes": attributes,
            }
        )
    result.rejected = len(result.errors)
    with transaction.atomic():
        stored, created = facilities_upsert(
            rows=good, type=type, source_id=source_id, department_id=department_id, default_hours=default_hours
        )
    result.stored, result.created = stored, created
    status = "succeeded" if not result.errors else ("partial" if stored else "failed")
    facade.run_finish(
        run_id=result.run_id,
        status=status,
        counts={"read": result.read, "stored": stored, "rejected": result.rejected},
        errors=[f"row {e['row']}, column {e['column']}: {e['message']}" for e in result.errors[:200]],
    )
    return result


def _row_point(row: dict, col: dict, is_geojson: bool) -> tuple[float, float] | None:
    if is_geojson:
        if row.get("__geom_error"):
            raise ValueError(row["__geom_error"])
        lon, lat = row.get("__lon"), row.get("__lat")
        if not isinstance(lon, int | float) or not isinstance(lat, int | float):
            raise ValueError("geometry: coordinates must be numbers")
        _check_lonlat(float(lon), float(lat))
        return float(lon), float(lat)
    lonlat = None
    if col["lon"] and col["lat"]:
        try:
            lon, lat = _float(row.get(col["lon"])), _float(row.get(col["lat"]))
        except ValueError:
            lon = lat = None
            if not col["wkt"]:
                raise ValueError(f"not a number: {_clean(row.get(col['lon']))[:30]!r}") from None
        if lon is not None and lat is not None:
            lonlat = (lon, lat)
    if lonlat is None and col["wkt"]:
        lonlat = parse_point(row.get(col["wkt"]) or "")
    if lonlat is not None:
        _check_lonlat(*lonlat)
    return lonlat


def facilities_upsert(
    *,
    rows: list[dict],
    type: str,  # noqa: A002
    source_id: int | None = None,
    department_id: int | None = None,
    default_hours: dict | None = None,
) -> tuple[int, int]:
    """Store facility rows ({key, name, name_en?, address, phone, lon, lat, attributes, hours?, always_open?,
    accessibility?, services?}) as datahub entities plus facility records; returns (stored, created)."""
    from django.contrib.gis.geos import Point

    if not rows:
        return 0, 0
    area_ids = facade.area_locate_many(points=[(r["lon"], r["lat"]) for r in rows])
    entity_ids = facade.facility_entities_upsert(
        rows=[
            {
                "key": r["key"],
                "name": r["name"],
                "name_en": r.get("name_en", ""),
                "lon": r["lon"],
                "lat": r["lat"],
                "area_id": area_id,
                "attributes": {"facility_type": type, **(r.get("attributes") or {})},
            }
            for r, area_id in zip(rows, area_ids, strict=True)
        ],
        scheme="facility",
        source_id=source_id,
    )
    existing = set(Facility.objects.filter(key__in=[r["key"] for r in rows]).values_list("key", flat=True))
    objs = [
        Facility(
            entity_id=entity_ids[r["key"]],
            key=r["key"],
            type=type,
            name=r["name"],
            name_en=r.get("name_en", ""),
            address=r.get("address", ""),
            point=Point(r["lon"], r["lat"], srid=4326),
            area_id=area_id,
            department_id=r.get("department_id", department_id),
            phone=r.get("phone", ""),
            hours=r.get("hours") if r.get("hours") is not None else (default_hours or {}),
            always_open=bool(r.get("always_open", False)),
            accessibility=r.get("accessibility") or [],
            services=r.get("services") or [],
            attributes=r.get("attributes") or {},
            is_active=r.get("is_active", True),
        )
        for r, area_id in zip(rows, area_ids, strict=True)
    ]
    Facility.objects.bulk_create(
        objs,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["type", "name", "name_en", "address", "point", "area", "phone", "attributes", "entity"],
    )
    return len(objs), len(objs) - len(existing)


# --- opening hours --------------------------------------------------------------------------------


def _hhmm(value) -> time:
    hours, minutes = str(value).strip().split(":")
    return time(int(hours), int(minutes))


def validate_hours(hours) -> dict:
    """{"mon": [["08:00", "12:00"], ["13:30", "17:00"]], …}: known days, HH:MM, each interval ascending."""
    if hours in (None, ""):
        return {}
    if not isinstance(hours, dict):
        raise LivelihoodError("hours: an object of weekdays is expected", field="hours")
    out = {}
    for day, intervals in hours.items():
        if day not in DAYS:
            raise LivelihoodError(f"hours: unknown day {day!r} (mon…sun)", field="hours")
        if not isinstance(intervals, list):
            raise LivelihoodError(f"hours.{day}: a list of [opens, closes] is expected", field="hours")
        clean = []
        for iv in intervals:
            try:
                opens, closes = (_hhmm(x) for x in iv)
            except (TypeError, ValueError):
                raise LivelihoodError(f"hours.{day}: {iv!r} is not [HH:MM, HH:MM]", field="hours") from None
            if closes <= opens:
                raise LivelihoodError(f"hours.{day}: closes before it opens ({iv!r})", field="hours")
            clean.append([opens.strftime("%H:%M"), closes.strftime("%H:%M")])
        out[day] = clean
    return out


def is_open(
    *, hours: dict, always_open: bool, exception: FacilityHoursException | None, at: datetime | None = None
) -> bool:
    """Open at `at` (city time): an exception for the day decides alone; else the weekly pattern."""
    local = timezone.localtime(at or timezone.now())
    t = local.time()
    if exception is not None:
        return bool(
            not exception.closed and exception.opens and exception.closes and exception.opens <= t < exception.closes
        )
    if always_open:
        return True
    for opens, closes in hours.get(DAYS[local.weekday()], []):
        if time.fromisoformat(opens) <= t < time.fromisoformat(closes):
            return True
    return False


@transaction.atomic
def facility_exception_set(
    *, facility_id: int, day: date, closed: bool, opens: time | None = None, closes: time | None = None, note: str = ""
) -> FacilityHoursException:
    if not closed and (opens is None or closes is None or closes <= opens):
        raise LivelihoodError("opens/closes: an open exception needs opens < closes", field="opens")
    exc, _ = FacilityHoursException.objects.update_or_create(
        facility_id=facility_id,
        date=day,
        defaults={
            "closed": closed,
            "opens": None if closed else opens,
            "closes": None if closed else closes,
            "note": note,
        },
    )
    return exc


@transaction.atomic
def facility_update(*, facility_id: int, actor=None, **fields) -> Facility:
    allowed = {"name", "name_en", "address", "phone", "hours", "always_open", "accessibility", "services", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise LivelihoodError(f"{sorted(unknown)[0]}: not editable", field=sorted(unknown)[0])
    if "hours" in fields:
        fields["hours"] = validate_hours(fields["hours"])
    fac = Facility.objects.select_for_update().get(pk=facility_id)
    for k, v in fields.items():
        setattr(fac, k, v)
    fac.save()
    facade.event_record(
        type="livelihood.facility_updated",
        subject_id=fac.entity_id,
        area_id=fac.area_id,
        actor_id=getattr(actor, "id", None),
        object_ref=f"livelihood:facility:{fac.id}",
        payload={"fields": sorted(fields)},
    )
    return fac
