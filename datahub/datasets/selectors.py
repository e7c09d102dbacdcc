"""Reads of the dataset catalogue: who sees which dataset, record queries, version diffs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.gis.db.models.functions import AsGeoJSON, AsWKT
from django.contrib.gis.geos import Polygon
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import F, FloatField, Q, QuerySet, TextField
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from cityos.roles import STAFF_ROLES, Role
from cityos.scoping import visible_department_ids
from datahub.core.files import converter
from datahub.core.models import Area, Department
from datahub.datasets.models import Dataset, DatasetField, DatasetRecord

RESERVED_PARAMS = frozenset(
    {"q", "sort", "page", "page_size", "bbox", "area", "version", "filters", "format", "fields", "limit", "entity"}
)
OPERATORS = ("gte", "lte", "gt", "lt", "ne", "contains")


class QueryError(ValueError):
    """A bad query parameter; the message names it."""


# --- access -------------------------------------------------------------------------------------------


def _is_staff(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in STAFF_ROLES))


def datasets_visible_to(user) -> QuerySet[Dataset]:
    """Public: every authenticated user (external developers too). Internal: staff. Restricted:
    city-wide roles, members of the owner department or its sub-departments, and the owner's
    parent departments (whose scope includes it, per cityos.scoping)."""
    qs = Dataset.objects.select_related("owner_department")
    if not user or not user.is_authenticated:
        return qs.none()
    cond = Q(level=Dataset.Level.PUBLIC)
    if _is_staff(user):
        cond |= Q(level=Dataset.Level.INTERNAL)
        if user.is_city_wide:  # cityos.scoping: city-wide roles see every department
            cond |= Q(level=Dataset.Level.RESTRICTED)
        elif user.department_id:
            path = Department.objects.filter(id=user.department_id).values_list("path", flat=True).first() or "/-/"
            ancestors = {int(p) for p in path.strip("/").split("/") if p.isdigit()}
            # One query for the user's path; the subtree is a join on the owner's path prefix.
            cond |= Q(level=Dataset.Level.RESTRICTED) & (
                Q(owner_department__path__startswith=path) | Q(owner_department_id__in=ancestors)
            )
    return qs.filter(cond)


def dataset_can_manage(user, dataset: Dataset) -> bool:
    """Create versions and edit: administrators, and staff of the owner department or above it."""
    if not _is_staff(user):
        return False
    if user.is_superuser or user.role == Role.ADMINISTRATOR:
        return True
    scope = visible_department_ids(user)
    return scope is not None and dataset.owner_department_id in scope


def catalogue_search(user, *, q: str = "", department: int | None = None, tag: str = "", level: str = "") -> QuerySet:
    qs = datasets_visible_to(user)
    if q:
        qs = qs.filter(
            Q(title__icontains=q) | Q(description__icontains=q) | Q(tags__contains=[q]) | Q(slug__icontains=q)
        )
    if department:
        ids = Department.objects.filter(id=department).values_list("path", flat=True).first()
        qs = qs.filter(owner_department__path__startswith=ids) if ids else qs.none()
    if tag:
        qs = qs.filter(tags__contains=[tag])
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("title", "id")


def catalogue_tags(user) -> list[str]:
    tags: set[str] = set()
    for row in datasets_visible_to(user).values_list("tags", flat=True):
        tags.update(row)
    return sorted(tags)


# --- records --------------------------------------------------------------------------------------------


def records_at(dataset: Dataset, version: int | None = None) -> QuerySet[DatasetRecord]:
    """Current rows, or the rows as they were at `version`."""
    qs = DatasetRecord.objects.filter(dataset=dataset)
    if version is None or version >= dataset.current_version:
        return qs.filter(version_to__isnull=True)
    return qs.filter(Q(version_to__isnull=True) | Q(version_to__gt=version), version_from__lte=version)


def _fields(dataset: Dataset) -> dict[str, DatasetField]:
    return {f.name: f for f in dataset.fields.all()}


def records_query(dataset: Dataset, params) -> QuerySet[DatasetRecord]:
    """CKAN DataStore-style filtering: field values (`<field>=`, `<field>__gte=`…, `filters={json}`),
    full-text `q`, `bbox=minx,miny,maxx,maxy`, `area=<id|code>` (within), `sort=f,-g`, `version=N`, `entity=<id>` (rows linked to it)."""
    fields = _fields(dataset)
    version = _int_param(params, "version")
    if version is not None and not (1 <= version <= dataset.current_version):
        raise QueryError(
            _("version: there is no version %(v)s (latest is %(latest)s).")
            % {"v": version, "latest": dataset.current_version}
        )
    qs = records_at(dataset, version)
    conditions: list[tuple[str, str, str]] = []
    raw_filters = params.get("filters")
    if raw_filters:
        try:
            parsed = json.loads(raw_filters)
        except json.JSONDecodeError:
            raise QueryError(_('filters: not valid JSON (expected {"field": value or [values]}).')) from None
        if not isinstance(parsed, dict):
            raise QueryError(_("filters: expected a JSON object."))
        for name, value in parsed.items():
            values = value if isinstance(value, list) else [value]
            conditions.append((name, "in", values))
    for key in params:
        if key in RESERVED_PARAMS:
            continue
        name, _sep, op = key.partition("__")
        if op and op not in OPERATORS:
            name, op = key, ""
        conditions.append((name, op or "eq", params.get(key)))
    for name, op, value in conditions:
        qs = _apply_condition(qs, fields, name, op, value)
    q = (params.get("q") or "").strip()
    if q:
        if any("\u3400" <= ch <= "\u9fff" for ch in q):
            # The 'simple' text-search parser keeps a run of Chinese characters as one word, so
            # Chinese queries match by substring instead (fine at catalogue sizes, per dataset).
            qs = qs.annotate(_text=Cast("data", TextField())).filter(_text__contains=q)
        else:
            qs = qs.filter(search=SearchQuery(q, config="simple", search_type="websearch"))
    bbox = params.get("bbox")
    if bbox:
        try:
            x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
        except ValueError:
            raise QueryError(_("bbox: expected minLon,minLat,maxLon,maxLat.")) from None
        if not (x0 < x1 and y0 < y1):
            raise QueryError(_("bbox: min must be below max."))
        qs = qs.filter(geom__intersects=Polygon.from_bbox((x0, y0, x1, y1)))
    entity = _int_param(params, "entity")
    if entity is not None:
        qs = qs.filter(entity_id=entity)
    area_param = params.get("area")
    if area_param:
        area = Area.objects.filter(
            Q(code=area_param) | (Q(id=int(area_param)) if area_param.isdigit() else Q())
        ).first()
        if area is None:
            raise QueryError(_("area: no area %(area)r.") % {"area": area_param})
        cond = Q(area_id__in=area_subtree_ids(area.id))
        if area.geometry is not None:
            cond |= Q(geom__within=area.geometry)
        qs = qs.filter(cond)
    return qs.order_by(*_ordering(fields, params.get("sort") or ""))


def _int_param(params, name: str, *, minimum: int = 0, maximum: int = 2**63 - 1) -> int | None:
    """An integer query parameter within [minimum, maximum] (ids, versions, offsets: never negative,
    never beyond a 64-bit column), else a QueryError naming it."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(_("%(name)s: expected an integer, got %(raw)r.") % {"name": name, "raw": raw}) from None
    if not minimum <= value <= maximum:
        raise QueryError(
            _("%(name)s: must be from %(min)s to %(max)s.") % {"name": name, "min": minimum, "max": maximum}
        )
    return value


def area_subtree_ids(area_id: int) -> set[int]:
    ids, frontier = {area_id}, [area_id]
    while frontier:  # one query per level (city → district → street → grid: 4 queries)
        frontier = list(Area.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.update(frontier)
    return ids


def _typed(field: DatasetField, value):
    if isinstance(value, bool | int | float) or value is None:
        return value
    try:
        return converter(field.type, field.format if field.format != "iso" else "")(str(value).strip())
    except ValueError as e:
        raise QueryError(
            _("%(name)s: %(value)r is %(error)s.") % {"name": field.name, "value": value, "error": e}
        ) from None


def _apply_condition(qs, fields, name, op, value):
    field = fields.get(name)
    if field is None:
        raise QueryError(_("%(name)s: no such field in this dataset.") % {"name": name})
    if field.type == "geometry":
        raise QueryError(_("%(name)s: filter geometry with bbox or area.") % {"name": name})
    if op == "in":
        cond = Q()
        for v in value:
            cond |= Q(data__contains={name: _typed(field, v)})
        return qs.filter(cond)
    if op == "contains":
        return qs.annotate(_c=KT(f"data__{name}")).filter(_c__icontains=str(value))
    typed = _typed(field, value)
    if op == "eq":
        return qs.filter(data__contains={name: typed})  # jsonb @>: uses the GIN index
    if op == "ne":
        return qs.exclude(data__contains={name: typed})
    lookup = {"gte": "gte", "lte": "lte", "gt": "gt", "lt": "lt"}[op]
    if field.type in ("integer", "decimal"):
        expr = Cast(KT(f"data__{name}"), FloatField())
    elif field.type in ("date", "datetime", "string"):
        expr = KT(f"data__{name}")  # ISO dates compare correctly as text
    else:
        raise QueryError(
            _("%(name)s: %(op)s is not supported on a %(type)s field.") % {"name": name, "op": op, "type": field.type}
        )
    return qs.annotate(_v=expr).filter(**{f"_v__{lookup}": typed})


def _ordering(fields, sort: str) -> list:
    out = []
    for part in [p.strip() for p in sort.split(",") if p.strip()]:
        desc = part.startswith("-")
        name = part.lstrip("-")
        if name == "_key":
            out.append(F("key").desc() if desc else F("key").asc())
            continue
        if name not in fields:
            raise QueryError(_("sort: no such field %(name)r.") % {"name": name})
        # jsonb orders numbers numerically and strings as text: typed sorting for free.
        expr = KeyTransform(name, "data")
        out.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True))
    out.append(F("key").asc())
    return out


def records_with_geometry(qs: QuerySet, *, as_wkt: bool = False) -> QuerySet:
    return qs.annotate(geo=AsWKT("geom") if as_wkt else AsGeoJSON("geom", precision=7))


# --- versions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionDiff:
    base: int
    target: int
    added: int
    changed: int
    removed: int
    rows: list[dict]


def version_diff(dataset: Dataset, *, base: int, target: int, limit: int = 200, offset: int = 0) -> VersionDiff:
    """Rows added, changed and removed between two versions, by primary key (key order)."""
    for v in (base, target):
        if not (0 <= v <= dataset.current_version):
            raise QueryError(
                _("version: there is no version %(v)s (latest is %(latest)s).")
                % {"v": v, "latest": dataset.current_version}
            )
    rec = DatasetRecord._meta.db_table
    state = (
        f"SELECT key, data, geom FROM {rec} WHERE dataset_id = %s AND version_from <= %s "  # noqa: S608
        "AND (version_to IS NULL OR version_to > %s)"
    )
    sql = (
        f"WITH a AS ({state}), b AS ({state}), d AS ("  # noqa: S608 - only our table name is formatted in
        " SELECT COALESCE(a.key, b.key) AS key, CASE WHEN a.key IS NULL THEN 'added' WHEN b.key IS NULL"
        " THEN 'removed' ELSE 'changed' END AS change, a.data AS before, b.data AS after"
        " FROM a FULL JOIN b ON a.key = b.key"
        " WHERE a.key IS NULL OR b.key IS NULL OR a.data <> b.data OR a.geom IS DISTINCT FROM b.geom)"
    )  # noqa: S608
    args = [dataset.id, base, base, dataset.id, target, target]
    with connection.cursor() as cur:
        cur.execute(sql + " SELECT change, count(*) FROM d GROUP BY change", args)  # noqa: S608
        counts = dict(cur.fetchall())
        cur.execute(
            sql + " SELECT key, change, before, after FROM d ORDER BY key LIMIT %s OFFSET %s",  # noqa: S608
            args + [limit, offset],
        )
        rows = []
        for key, change, before, after in cur.fetchall():
            before = json.loads(before) if isinstance(before, str) else before
            after = json.loads(after) if isinstance(after, str) else after
            changed_fields = (
                sorted(k for k in set(before or {}) | set(after or {}) if (before or {}).get(k) != (after or {}).get(k))
                if change == "changed"
                else []
            )
            rows.append(
                {"key": key, "change": change, "before": before, "after": after, "changed_fields": changed_fields}
            )
    return VersionDiff(
        base=base,
        target=target,
        added=counts.get("added", 0),
        changed=counts.get("changed", 0),
        removed=counts.get("removed", 0),
        rows=rows,
    )


ENTITY_RECORDS_SHOWN = 50


def entity_records_context(*, entity_id: int, user) -> dict | None:
    """The entity page's "Dataset records" section: current rows linked to the entity, in the
    datasets the user may read; None (section hidden) when there are none."""
    qs = (
        DatasetRecord.objects.filter(
            entity_id=entity_id, version_to__isnull=True, dataset__in=datasets_visible_to(user)
        )
        .select_related("dataset")
        .order_by("dataset__title", "dataset_id", "key")
    )
    rows = list(qs[: ENTITY_RECORDS_SHOWN + 1])
    if not rows:
        return None
    return {"records": rows[:ENTITY_RECORDS_SHOWN], "more": len(rows) > ENTITY_RECORDS_SHOWN}
