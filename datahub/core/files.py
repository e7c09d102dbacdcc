"""Reading, schema inference and row validation for dataset imports (CSV, XLSX, JSON, GeoJSON).

Every reader yields the same thing: a header and rows of *strings or None*, whatever the
format, so one inference and one validation path serve all four. XLSX and JSON native values
(numbers, dates, booleans) are turned into their canonical text first.

Whole-file problems (not text, truncated JSON, zip bomb, too big) raise `ImportFileError`
before anything is stored; row problems become `RowError`s naming the row and the column.
Row numbers are what a person sees in the file: for CSV and XLSX the line/sheet row (the header
is row 1), for JSON and GeoJSON the 1-based position in the array.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import tempfile
import typing
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

FORMATS = ("csv", "xlsx", "json", "geojson")
NULLS = frozenset({"", "na", "n/a", "null", "none", "nan", "-"})


class ImportFileError(Exception):
    """The file as a whole cannot be imported. `code` is stable, the message says why."""

    def __init__(self, message: str, *, code: str = "invalid_file"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}

    def __str__(self) -> str:
        return _("row %(row)s, column %(column)s: %(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class Table:
    format: str
    columns: list[str]
    rows: Iterator[tuple[int, list]]
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)


def _setting(name: str, default):
    return getattr(settings, name, default)  # set in cityos/settings/base.py from the environment


def human_size(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return _("%(n)s bytes") % {"n": n}


def too_large(size: int) -> ImportFileError:
    return ImportFileError(
        _("The file is too large: %(size)s; the limit is %(limit)s.")
        % {"size": human_size(size), "limit": human_size(max_upload_bytes())},
        code="file_too_large",
    )


def max_upload_bytes() -> int:
    return int(_setting("DATAHUB_IMPORT_MAX_BYTES", 200 * 1024 * 1024))


# --- readers -----------------------------------------------------------------------------------


def detect_format(filename: str, head: bytes) -> str:
    ext = Path(filename).suffix.lower().lstrip(".")
    if ext in ("xlsx", "xlsm"):
        return "xlsx"
    if ext in ("geojson",):
        return "geojson"
    if ext == "json":
        return "geojson" if b'"FeatureCollection"' in head[:4096] else "json"
    if ext in ("csv", "tsv", "txt"):
        return "csv"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip()[:1] in (b"[", b"{"):
        return "geojson" if b'"FeatureCollection"' in head[:4096] else "json"
    return "csv"


def open_table(path: str | Path, *, filename: str, encoding: str = "", delimiter: str = "") -> Table:
    path = Path(path)
    size = path.stat().st_size
    if size > max_upload_bytes():
        raise too_large(size)
    if size == 0:
        raise ImportFileError(_("The file is empty."), code="empty_file")
    with path.open("rb") as f:
        head = f.read(8192)
    fmt = detect_format(filename, head)
    if fmt == "xlsx":
        return _read_xlsx(path)
    raw = path.read_bytes()
    text, enc = decode(raw, encoding)
    if fmt == "csv":
        return _read_csv(text, enc, delimiter)
    return _read_json(text, enc, geo=(fmt == "geojson"))


def decode(raw: bytes, encoding: str = "") -> tuple[str, str]:
    """Decode the whole file: the given encoding, else a BOM, else UTF-8, else charset-normalizer."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(_("Unknown encoding %(enc)r.") % {"enc": encoding}, code="bad_encoding") from None
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            raise ImportFileError(
                _(
                    "The file is not valid %(enc)s: byte 0x%(byte)02x on line %(line)s cannot be decoded. "
                    "Choose another encoding or leave it empty to detect it."
                )
                % {"enc": encoding, "byte": raw[e.start], "line": line},
                code="bad_encoding",
            ) from None
    if raw.startswith(codecs.BOM_UTF8):
        return _decode_utf8(raw[3:]), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if b"\x00" in raw[:65536]:
        raise ImportFileError(_("The file is binary, not text (it contains NUL bytes)."), code="bad_encoding")
    try:
        return _decode_utf8(raw), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # Government files here are UTF-8, GB18030 (Chinese Windows) or Latin-1/CP1252 (Western Excel);
    # restricting the candidates keeps detection at ~50 ms on a 1 MB sample and stops exotic guesses.
    best = from_bytes(raw[:1_000_000], cp_isolation=["gb18030", "cp1252", "latin_1"]).best()
    if best is None:
        raise ImportFileError(_("The file's text encoding could not be recognised."), code="bad_encoding")
    enc = {"cp1252": "cp1252", "latin_1": "latin-1", "iso8859_1": "latin-1"}.get(best.encoding, best.encoding)
    if enc == "cp1252" and not re.search(rb"[\x80-\x9f]", raw):
        enc = "latin-1"  # the two only differ in 0x80–0x9F: without those bytes the file is plain Latin-1
    try:
        return raw.decode(enc), enc
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(raw) - 3 and "unexpected end" in e.reason:
            raise ImportFileError(
                _("The file ends in the middle of a character: it looks truncated."), code="truncated_file"
            ) from None
        raise


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text[:65536].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _read_csv(text: str, enc: str, delimiter: str) -> Table:
    delim = delimiter or sniff_delimiter(text)
    if delim == "\\t":
        delim = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(_("The file has no header row."), code="empty_file") from None
    except csv.Error as e:
        raise ImportFileError(_("Line 1: %(error)s.") % {"error": e}, code="malformed_csv") from None
    columns = _clean_header(header)

    def rows() -> Iterator[tuple[int, list]]:
        line = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise ImportFileError(
                    _("Line %(line)s: %(error)s (an unclosed quote: the file looks truncated).")
                    % {"line": reader.line_num, "error": e},
                    code="malformed_csv",
                ) from None
            line += 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            yield line, values

    return Table(format="csv", columns=columns, rows=rows(), encoding=enc, delimiter=delim)


def _clean_header(header: list) -> list[str]:
    out, seen = [], set()
    for i, h in enumerate(header):
        name = ("" if h is None else str(h)).strip() or f"column_{i + 1}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append(name)
    return out


def _check_zip(path: Path) -> None:
    """Refuse zip bombs before openpyxl inflates anything.

    Real XLSX files inflate 5–20x; a sheet of repeated values can reach ~100x. Declared sizes
    can lie, but zipfile never reads past a member's declared size, so checking them suffices.
    """
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ImportFileError(
            _("This is not a valid XLSX file (the zip archive is damaged or truncated)."), code="bad_xlsx"
        ) from None
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos) or 1
        limit = int(_setting("DATAHUB_XLSX_MAX_UNCOMPRESSED_BYTES", 1024 * 1024 * 1024))
        ratio = int(_setting("DATAHUB_XLSX_MAX_RATIO", 200))
        if total > limit or (total > 10 * 1024 * 1024 and total / packed > ratio):
            raise ImportFileError(
                _(
                    "Refused: the XLSX file would inflate to %(mb)d MB (%(ratio)dx its size); this looks like a zip bomb."
                )
                % {"mb": round(total / 1e6), "ratio": round(total / packed)},
                code="zip_bomb",
            )
        if "xl/workbook.xml" not in {i.filename for i in infos}:
            raise ImportFileError(_("This zip file is not an XLSX workbook (no xl/workbook.xml)."), code="bad_xlsx")


def _read_xlsx(path: Path) -> Table:
    _check_zip(path)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for damaged workbooks
        raise ImportFileError(
            _("The XLSX workbook cannot be read: %(error)s") % {"error": e}, code="bad_xlsx"
        ) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header, line = None, 0
    for values in it:
        line += 1
        if any(v not in (None, "") for v in values):
            header = values
            break
    if header is None:
        wb.close()
        raise ImportFileError(_("The first sheet is empty."), code="empty_file")
    columns = _clean_header(list(header))
    while columns and columns[-1].startswith("column_") and header[len(columns) - 1] in (None, ""):
        columns.pop()

    def rows() -> Iterator[tuple[int, list]]:
        n = line
        try:
            for values in it:
                n += 1
                vals = [_native_text(v) for v in values[: max(len(columns), len(values))]]
                while len(vals) > len(columns) and vals[-1] is None:
                    vals.pop()
                if all(v is None for v in vals):
                    continue
                yield n, vals
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ImportFileError(
                _("Sheet row %(row)s: the workbook is damaged (%(error)s).") % {"row": n, "error": e}, code="bad_xlsx"
            ) from None
        finally:
            wb.close()

    return Table(format="xlsx", columns=columns, rows=rows(), notes=[_("sheet %(name)r") % {"name": ws.title}])


def _native_text(v) -> str | None:
    """Canonical text of an XLSX/JSON native value, so one validation path serves every format."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) and v.tzinfo is None else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _read_json(text: str, enc: str, *, geo: bool) -> Table:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFileError(
            _("Invalid JSON at line %(line)s, column %(col)s: %(error)s (is the file truncated?).")
            % {"line": e.lineno, "col": e.colno, "error": e.msg},
            code="malformed_json",
        ) from None
    notes: list[str] = []
    if geo or (isinstance(doc, dict) and doc.get("type") == "FeatureCollection"):
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
            raise ImportFileError(
                _("A GeoJSON file must be a FeatureCollection with a features array."), code="bad_geojson"
            )
        srid = _geojson_srid(doc)
        if srid != 4326:
            notes.append(_("reprojected from EPSG:%(srid)s") % {"srid": srid})
        items = []
        for f in doc["features"]:
            if not isinstance(f, dict):
                items.append(None)
                continue
            props = dict(f.get("properties") or {})
            geom = f.get("geometry")
            if geom is not None and srid != 4326:
                geom = {"__srid__": srid, **geom}
            props["geometry"] = geom
            items.append(props)
        fmt = "geojson"
    else:
        if isinstance(doc, dict):
            # {"records": [...]}, {"data": [...]} and similar one-array wrappers (CKAN, many portals).
            arrays = [v for v in doc.values() if isinstance(v, list)]
            if len(arrays) != 1:
                raise ImportFileError(_("A JSON file must be an array of objects."), code="bad_json")
            doc = arrays[0]
        if not isinstance(doc, list):
            raise ImportFileError(_("A JSON file must be an array of objects."), code="bad_json")
        items, fmt = doc, "json"
    columns: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            for k in item:
                if k not in seen:
                    seen.add(k)
                    columns.append(str(k))
    if not columns:
        raise ImportFileError(_("The file holds no records."), code="empty_file")
    if fmt == "geojson" and "geometry" in columns:
        columns.remove("geometry")
        columns.append("geometry")

    def rows() -> Iterator[tuple[int, list]]:
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                yield n, _NotAnObject(type(item).__name__)
                continue
            yield (
                n,
                [
                    _geo_text(item.get(c)) if c == "geometry" and fmt == "geojson" else _native_text(item.get(c))
                    for c in columns
                ],
            )

    return Table(format=fmt, columns=columns, rows=rows(), encoding=enc, notes=notes)


class _NotAnObject(list):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind


def _geojson_srid(doc: dict) -> int:
    name = ((doc.get("crs") or {}).get("properties") or {}).get("name", "")
    m = re.search(r"EPSG:+(\d+)", name or "")
    return int(m.group(1)) if m and not name.endswith("CRS84") else 4326


def _geo_text(geom) -> str | None:
    return None if geom is None else json.dumps(geom)


# --- types: inference and conversion -------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d{1,18}$")
_DEC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_BOOL = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "t": True,
    "f": False,
    "y": True,
    "n": False,
    "是": True,
    "否": False,
}
_WKT = re.compile(
    r"^\s*(SRID=\d+;)?\s*(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON)\s*Z?\s*\(", re.I
)
_POINT = re.compile(r"^\s*POINT\s*\(\s*([-+\d.eE]+)\s+([-+\d.eE]+)\s*\)\s*$", re.I)

# Tried in this order; the first format that reads every value wins. Day-first comes before
# month-first for four-digit years (most of the world writes 31/12/2012); US-style m/d/yy
# exports (Little Rock's) are recognised by their two-digit year.
DATE_FORMATS = [
    "iso",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%Y年%m月%d日",
    "%d-%m-%Y",
    "%Y%m%d",
]
DATETIME_FORMATS = [
    "iso",
    "%m/%d/%y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%y %H:%M:%S",
]
_DATE_SHAPE = re.compile(r"^\d{1,4}[-/.年]\d{1,2}[-/.月]\d{1,4}日?$|^\d{8}$")
_DT_SHAPE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}[ T]\d{1,2}:\d{2}")


def _fix_century(d):
    # %y maps 69–99 to 19xx and 00–68 to 20xx, so "6/1/55" would be 2055. Records here are
    # about the past (licence starts, incidents): a year more than a year ahead is last century.
    limit = timezone.now().year + 1
    return d.replace(year=d.year - 100) if d.year > limit else d


def make_date_parser(fmt: str, *, with_time: bool) -> Callable[[str], str]:
    """A parser str -> ISO text, raising ValueError; cached because dates repeat (~20x in real files)."""
    cache: dict[str, str] = {}
    two_digit = "%y" in fmt

    def parse(s: str) -> str:
        hit = cache.get(s)
        if hit is not None:
            return hit
        if fmt == "iso":
            if with_time:
                if not _DT_SHAPE.match(s):
                    raise ValueError
                out = datetime.fromisoformat(s.replace("Z", "+00:00")).isoformat()
            else:
                if len(s) != 10:
                    raise ValueError
                out = date.fromisoformat(s).isoformat()
        elif fmt == "%Y%m%d":
            if len(s) != 8 or not s.isdigit():
                raise ValueError
            out = datetime.strptime(s, fmt).date().isoformat()  # noqa: DTZ007 - a date, no time zone
        else:
            dt = datetime.strptime(s, fmt)  # noqa: DTZ007 - naive: the file's local time, kept as written
            if two_digit:
                dt = _fix_century(dt)
            out = dt.isoformat() if with_time else dt.date().isoformat()
        if len(cache) < 100_000:
            cache[s] = out
        return out

    return parse


def converter(ftype: str, fmt: str = "") -> Callable[[str], object]:
    """str -> JSON-ready value, raising ValueError with a message for a person."""
    if ftype == "integer":

        def conv(s):
            if not _INT.match(s):
                raise ValueError(_("not an integer"))
            return int(s)

        return conv
    if ftype == "decimal":

        def conv(s):
            if not _DEC.match(s):
                raise ValueError(_("not a number"))
            v = float(s)
            return int(v) if v.is_integer() and "e" not in s.lower() and "." not in s else v

        return conv
    if ftype == "boolean":

        def conv(s):
            v = _BOOL.get(s.lower())
            if v is None:
                if s in ("0", "1"):
                    return s == "1"
                raise ValueError(_("not a yes/no value"))
            return v

        return conv
    if ftype in ("date", "datetime"):
        fmts = [fmt] if fmt else (DATE_FORMATS if ftype == "date" else DATETIME_FORMATS)
        parsers = [make_date_parser(f, with_time=(ftype == "datetime")) for f in fmts]
        label = fmt.replace("%", "") if fmt and fmt != "iso" else ("YYYY-MM-DD" if ftype == "date" else "ISO 8601")

        def conv(s):
            for p in parsers:
                try:
                    return p(s)
                except ValueError:
                    continue
            msg = _("not a date (%(format)s)") if ftype == "date" else _("not a date and time (%(format)s)")
            raise ValueError(msg % {"format": label})

        return conv
    if ftype == "json":

        def conv(s):
            try:
                return json.loads(s)
            except json.JSONDecodeError:
                raise ValueError(_("not valid JSON")) from None

        return conv
    return str


def geometry_ewkt(s: str) -> str:
    """WKT, EWKT or GeoJSON text -> EWKT in WGS84, raising ValueError."""
    m = _POINT.match(s)
    if m:
        x, y = float(m.group(1)), float(m.group(2))
        _check_lonlat(x, y)
        return f"SRID=4326;POINT({x!r} {y!r})"
    from django.contrib.gis.geos import GEOSException, GEOSGeometry

    srid = 4326
    if s.lstrip().startswith("{"):
        try:
            obj = json.loads(s)
        except json.JSONDecodeError:
            raise ValueError(_("not valid GeoJSON")) from None
        srid = obj.pop("__srid__", 4326) if isinstance(obj, dict) else 4326
        s = json.dumps(obj)
    try:
        g = GEOSGeometry(s)
    except (GEOSException, ValueError, TypeError):
        raise ValueError(_("not a valid geometry (WKT or GeoJSON)")) from None
    if g.srid and g.srid != 4326:
        srid = g.srid
    if srid != 4326:
        g.srid = srid
        g.transform(4326)
    g.srid = 4326
    x0, y0, x1, y1 = g.extent
    _check_lonlat(x0, y0)
    _check_lonlat(x1, y1)
    return g.ewkt


def _check_lonlat(x: float, y: float) -> None:
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise ValueError(_("coordinates (%(x)s, %(y)s) are outside longitude/latitude ranges") % {"x": x, "y": y})


_TYPE_ORDER = ["boolean", "integer", "decimal", "date", "datetime", "geometry"]
_PK_NAMES = re.compile(r"^(id|_id|code|key|uuid|编号|代码|编码|.*[_ ]id|.*[_ ]code|.*编号|.*代码)$", re.I)
_LAT = re.compile(r"^(lat|latitude|y|纬度|point_y)$", re.I)
_LON = re.compile(r"^(lon|lng|long|longitude|x|经度|point_x)$", re.I)
_AREA = re.compile(r"^(area|district|borough|neighbou?rhood|street|区|区县|街道|行政区|所属区域|所在区)$", re.I)
_ADDRESS = re.compile(r"^(.*address|addr|location|.*地址|所在地)$", re.I)


def _candidate_types(s: str) -> set[str]:
    out = {"string"}
    low = s.lower()
    if low in _BOOL:
        out.add("boolean")
    if _INT.match(s):
        out |= {"integer", "decimal"}
    elif _DEC.match(s):
        out.add("decimal")
    if _DATE_SHAPE.match(s):
        out.add("date")
    if _DT_SHAPE.match(s):
        out.add("datetime")
    if _WKT.match(s) or (s.startswith("{") and '"coordinates"' in s):
        out.add("geometry")
    return out


def infer_schema(columns: list[str], rows: list[list]) -> tuple[list[dict], dict, list[str]]:
    """Infer field types, required flags and a primary key from sample rows.

    Returns (fields, location, notes). Each field: {name, type, format, unit, required,
    is_primary_key}. `location` names the columns rows are located with.
    """
    n = len(columns)
    values: list[list[str]] = [[] for _ in range(n)]
    empties = [0] * n
    for _line, row in rows:
        for i in range(n):
            v = row[i] if i < len(row) else None
            v = v.strip() if isinstance(v, str) else v
            if v is None or v.lower() in NULLS:
                empties[i] += 1
            else:
                values[i].append(v)
    fields, notes = [], []
    for i, name in enumerate(columns):
        vals = values[i]
        ftype, fmt = "string", ""
        if not vals:
            notes.append(_("column %(name)r is empty") % {"name": name})
        else:
            cands = set(_TYPE_ORDER)
            for v in vals[:2000]:
                cands &= _candidate_types(v)
                if not cands:
                    break
            for t in _TYPE_ORDER:
                if t not in cands:
                    continue
                if t in ("date", "datetime"):
                    fmt = _pick_date_format(vals, t)
                    if not fmt:
                        continue
                elif t == "geometry":
                    if not all(_safe(geometry_ewkt, v) for v in vals[:200]):
                        continue
                elif not all(_safe(converter(t), v) for v in vals):
                    continue
                ftype = t
                break
        fields.append(
            {
                "name": name,
                "type": ftype,
                "format": fmt,
                "unit": "",
                "required": bool(vals) and empties[i] == 0,
                "is_primary_key": False,
            }
        )
    candidates = [f["name"] for i, f in enumerate(fields) if _is_key_like(f, values[i], empties[i])]
    if candidates:
        notes.append(_("primary key candidates: %(columns)s") % {"columns": ", ".join(candidates)})
    pk = _pick_primary_key(fields, values, empties)
    if pk is not None:
        fields[pk]["is_primary_key"] = True
        fields[pk]["required"] = True
    return fields, guess_location(fields), notes


def _is_key_like(f: dict, vals: list[str], empties: int) -> bool:
    """Every value present and unique, and a type a key can have."""
    return (
        bool(vals)
        and not empties
        and f["type"] not in ("geometry", "decimal", "boolean", "json")
        and len(set(vals)) == len(vals)
    )


def _safe(fn, v) -> bool:
    try:
        fn(v)
        return True
    except (ValueError, TypeError):
        return False


def _pick_date_format(vals: list[str], ftype: str) -> str:
    sample = vals if len(vals) <= 5000 else vals[:5000]
    for fmt in DATE_FORMATS if ftype == "date" else DATETIME_FORMATS:
        p = make_date_parser(fmt, with_time=(ftype == "datetime"))
        if all(_safe(p, v) for v in sample):
            return fmt
    return ""


def _pick_primary_key(fields: list[dict], values: list[list[str]], empties: list[int]) -> int | None:
    """A column named like an identifier, or an integer/date column, with every value present and unique."""
    best = None
    for i, f in enumerate(fields):
        if not _is_key_like(f, values[i], empties[i]):
            continue
        score = 3 if _PK_NAMES.match(f["name"]) else 2 if f["type"] in ("integer", "date", "datetime") else 0
        if score and (best is None or score > best[0]):
            best = (score, i)
    return best[1] if best else None


def guess_location(fields: list[dict]) -> dict:
    loc: dict = {}
    names = {f["name"]: f for f in fields}
    geom = next((f["name"] for f in fields if f["type"] == "geometry"), None)
    lat = next((n for n, f in names.items() if _LAT.match(n) and f["type"] == "decimal"), None)
    lon = next((n for n, f in names.items() if _LON.match(n) and f["type"] == "decimal"), None)
    if lat and lon:
        loc.update(lat=lat, lon=lon)
    elif geom:
        loc["geometry"] = geom
    area = next((n for n in names if _AREA.match(n)), None)
    if area:
        loc["area_name"] = area
    address = next((n for n in names if _ADDRESS.match(n)), None)
    if address:
        loc["address"] = address
    return loc


# --- validation ---------------------------------------------------------------------------------


@dataclass
class ValidationResult:
    rows_read: int = 0
    rows_valid: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    buffer: typing.IO[str] | None = None
    preview: list[dict] = field(default_factory=list)


class Cancelled(Exception):
    pass


def _copy_escape(s: str) -> str:
    # COPY text format: backslash, tab, newline and CR are the only special characters.
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def validate(
    table: Table,
    fields: list[dict],
    location: dict,
    *,
    keep_errors: int = 1_000_000,
    preview_rows: int = 0,
    max_rows: int | None = None,
    write: bool = True,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 5000,
) -> ValidationResult:
    """Validate every row against the schema; write valid rows as COPY lines (key, data, geom, row).

    Duplicate primary keys are errors on the later row, naming the earlier one.
    """
    # Valid rows wait here for COPY: in memory up to 64 MB (~800k rows of 7 columns), then on disk.
    res = ValidationResult(
        buffer=tempfile.SpooledTemporaryFile(max_size=64 << 20, mode="w+", encoding="utf-8") if write else None
    )
    col_index = {c: i for i, c in enumerate(table.columns)}
    missing = [f["name"] for f in fields if f["required"] and f["name"] not in col_index]
    if missing:
        raise ImportFileError(
            _("Required column(s) missing from the file: %(columns)s.") % {"columns": ", ".join(missing)},
            code="missing_columns",
        )
    plan = []  # (name, index, convert, required, is_geometry)
    for f in fields:
        idx = col_index.get(f["name"])
        is_geom = f["type"] == "geometry"
        conv = geometry_ewkt if is_geom else converter(f["type"], f.get("format", ""))
        # A column absent from the file reads index `ncols`, which every row holds as None.
        plan.append((f["name"], len(table.columns) if idx is None else idx, conv, f["required"], is_geom))
    pk_names = [f["name"] for f in fields if f["is_primary_key"]]
    geom_field = location.get("geometry") or next((f["name"] for f in fields if f["type"] == "geometry"), None)
    lat_col, lon_col = location.get("lat"), location.get("lon")
    seen_keys: dict[str, int] = {}
    occurrences: dict[str, int] = {}
    ncols = len(table.columns)
    width = ncols + 1
    out = res.buffer
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    msg_required = _("a value is required")  # translated once, not per invalid row

    def add_error(err: RowError):
        res.error_count += 1
        if len(res.errors) < keep_errors:
            res.errors.append(err)

    for line, raw in table.rows:
        res.rows_read += 1
        if max_rows is not None and res.rows_read > max_rows:
            res.rows_read -= 1
            break
        if progress and res.rows_read % progress_every == 0:
            progress(res.rows_read)
        if isinstance(raw, _NotAnObject):
            add_error(RowError(line, "—", "", _("expected an object, found %(kind)s") % {"kind": raw.kind}))
            continue
        if table.format in ("csv", "xlsx") and len(raw) > ncols:
            # Fewer values than columns is common (trailing empty cells are often not written):
            # those are empty values, caught by `required`. More values than columns is an error.
            add_error(
                RowError(line, "—", "", _("expected %(n)s columns, found %(found)s") % {"n": ncols, "found": len(raw)})
            )
            continue
        if len(raw) < width:
            raw.extend([None] * (width - len(raw)))  # missing trailing cells, and the None at `ncols`
        data: dict = {}
        geom = None
        ok = True
        for name, idx, conv, required, is_geom in plan:
            v = raw[idx]
            if v is not None:
                v = v.strip()
                # Every null marker is at most 4 characters: skip lower() for longer values.
                if not v or (len(v) <= 4 and v.lower() in NULLS):
                    v = None
            if v is None:
                if required:
                    add_error(RowError(line, name, "", msg_required))
                    ok = False
                data[name] = None
                continue
            try:
                val = conv(v)
            except ValueError as e:
                add_error(RowError(line, name, v[:200], str(e) or _("invalid value")))
                ok = False
                continue
            if is_geom:
                if name == geom_field and geom is None:
                    geom = val
                else:
                    data[name] = val
            else:
                data[name] = val
        if not ok:
            continue
        if lat_col and lon_col and geom is None:
            la, lo = data.get(lat_col), data.get(lon_col)
            if la is not None and lo is not None:
                if -90 <= la <= 90 and -180 <= lo <= 180 and not (la == 0 and lo == 0):
                    geom = f"SRID=4326;POINT({float(lo)!r} {float(la)!r})"
                else:
                    add_error(RowError(line, lat_col, f"{la}, {lo}", _("latitude/longitude out of range")))
                    continue
        text = dumps(data)
        if pk_names:
            key = "|".join("" if data.get(k) is None else str(data.get(k)) for k in pk_names)
            first = seen_keys.get(key)
            if first is not None:
                add_error(
                    RowError(
                        line,
                        ",".join(pk_names),
                        key[:200],
                        _("duplicate key %(key)r: row %(row)s has the same key") % {"key": key, "row": first},
                    )
                )
                continue
            seen_keys[key] = line
        else:
            # No primary key: a row is identified by its content (md5, ~1 µs/row); identical rows
            # are numbered so a file with repeated rows keeps all of them.
            h = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:20]
            n = occurrences.get(h, 0) + 1
            occurrences[h] = n
            key = h if n == 1 else f"{h}~{n}"
        res.rows_valid += 1
        if len(res.preview) < preview_rows:
            res.preview.append({"row": line, "key": key, **data})
        if out is not None:
            out.write(f"{_copy_escape(key)}\t{_copy_escape(text)}\t{geom or chr(92) + 'N'}\t{line}\n")
    if progress:
        progress(res.rows_read)
    return res


def error_report_csv(errors: list[RowError]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row", "column", "value", "message"])
    for e in errors:
        w.writerow([e.row, e.column, e.value, e.message])
    return buf.getvalue().encode("utf-8-sig")  # with a BOM so Excel opens Chinese text correctly
