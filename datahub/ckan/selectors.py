"""Reads for the CKAN-compatible API: the public catalogue shaped as CKAN packages.

CKAN's model maps onto the datahub's like this:
- package (dataset)       = a public `Dataset` (name = its slug, id = a stable UUID derived from its pk)
- organization            = the dataset's owner `Department` (name = its code)
- tag                     = an entry of `Dataset.tags`
- resource                = the dataset's current rows: one DataStore resource per dataset, whose
                            `url` downloads them as CSV (the id is a stable UUID as well)
Only public datasets are exposed, whoever asks: this is the open-data door (internal and
restricted data stay behind the CityOS API and its scoping).
"""

from __future__ import annotations

import re
import uuid

from django.db.models import Q, QuerySet

from datahub.models import Dataset, DatasetField, Department

# Stable ids: the same dataset keeps the same CKAN id across databases built from the same data.
_NS = uuid.UUID("8f7c2d3a-1c1b-4c55-9a57-1d1e0c1a7d10")

# CKAN DataStore type names for the datahub's field types.
DATASTORE_TYPES = {
    DatasetField.Type.STRING: "text",
    DatasetField.Type.INTEGER: "int",
    DatasetField.Type.DECIMAL: "numeric",
    DatasetField.Type.BOOLEAN: "bool",
    DatasetField.Type.DATE: "date",
    DatasetField.Type.DATETIME: "timestamp",
    DatasetField.Type.GEOMETRY: "text",
    DatasetField.Type.JSON: "json",
}


class CkanError(Exception):
    """An error CKAN clients understand: `kind` is CKAN's `__type`, `status` the HTTP status."""

    def __init__(self, message: str, *, kind: str = "Validation Error", status: int = 409, fields=None):
        super().__init__(message)
        self.kind, self.status, self.fields = kind, status, fields or {}


def package_id(dataset_id: int) -> str:
    return str(uuid.uuid5(_NS, f"package:{dataset_id}"))


def resource_id(dataset_id: int) -> str:
    return str(uuid.uuid5(_NS, f"resource:{dataset_id}"))


def organization_id(department_id: int) -> str:
    return str(uuid.uuid5(_NS, f"organization:{department_id}"))


def public_datasets() -> QuerySet[Dataset]:
    return Dataset.objects.filter(level=Dataset.Level.PUBLIC).select_related("owner_department")


def dataset_by_ref(ref: str) -> Dataset:
    """A public dataset by CKAN name (slug) or id; NotFound otherwise."""
    ref = (ref or "").strip()
    if not ref:
        raise CkanError("id: Missing value", fields={"id": ["Missing value"]})
    qs = public_datasets()
    ds = qs.filter(slug=ref).first()
    if ds is None:
        try:
            wanted = uuid.UUID(ref)
        except ValueError:
            wanted = None
        if wanted is not None:
            # The UUID is derived from the pk: compare against the (few hundred) public pks.
            for pk in qs.values_list("id", flat=True):
                if package_id(pk) == str(wanted):
                    ds = qs.get(id=pk)
                    break
    if ds is None:
        raise CkanError("Dataset not found", kind="Not Found Error", status=404)
    return ds


def dataset_by_resource(ref: str) -> Dataset:
    ref = (ref or "").strip()
    if not ref:
        raise CkanError("resource_id: Missing value", fields={"resource_id": ["Missing value"]})
    for pk in public_datasets().values_list("id", flat=True):
        if resource_id(pk) == ref:
            return public_datasets().get(id=pk)
    raise CkanError("Resource not found", kind="Not Found Error", status=404)


def organization_dict(dept: Department) -> dict:
    return {
        "id": organization_id(dept.id),
        "name": dept.code,
        "title": dept.name,
        "display_name": dept.name,
        "description": dept.name_en,
        "type": "organization",
        "is_organization": True,
        "state": "active" if dept.is_active else "deleted",
        "approval_status": "approved",
        "image_url": "",
    }


def _iso(dt) -> str | None:
    # CKAN writes naive UTC timestamps without an offset (2026-12-03T10:00:00.123456).
    return dt.astimezone(tz=None).replace(tzinfo=None).isoformat() if dt else None


def resource_dict(ds: Dataset, *, base_url: str) -> dict:
    return {
        "id": resource_id(ds.id),
        "package_id": package_id(ds.id),
        "name": ds.title,
        "description": ds.description,
        "format": "CSV",
        "mimetype": "text/csv",
        "url": f"{base_url}/ckan/dataset/{ds.slug}/download.csv",
        "url_type": "datastore",
        "datastore_active": True,
        "state": "active",
        "position": 0,
        "created": _iso(ds.created_at),
        "last_modified": _iso(ds.updated_at),
    }


def package_dict(ds: Dataset, *, base_url: str) -> dict:
    dept = ds.owner_department
    return {
        "id": package_id(ds.id),
        "name": ds.slug,
        "title": ds.title,
        "notes": ds.description,
        "type": "dataset",
        "state": "active",
        "private": False,
        "license_id": ds.licence or "notspecified",
        "license_title": ds.licence or "License not specified",
        "metadata_created": _iso(ds.created_at),
        "metadata_modified": _iso(ds.updated_at),
        "version": str(ds.current_version) if ds.current_version else None,
        "url": f"{base_url}/datahub/datasets/{ds.slug}/",
        "owner_org": organization_id(dept.id),
        "organization": organization_dict(dept),
        "tags": [{"name": t, "display_name": t, "state": "active"} for t in ds.tags],
        "num_tags": len(ds.tags),
        "resources": [resource_dict(ds, base_url=base_url)],
        "num_resources": 1,
        "extras": [
            {"key": "update_frequency", "value": ds.update_frequency},
            {"key": "row_count", "value": str(ds.row_count)},
        ],
    }


# --- package_search ----------------------------------------------------------------------------------

# The Solr fields a CKAN `fq` may name, and what they filter here.
_FQ_FIELD = re.compile(r'([+-]?)(\w+):(?:"([^"]*)"|(\S+))')
_SORTS = {
    "name": "slug",
    "title_string": "title",
    "metadata_modified": "updated_at",
    "metadata_created": "created_at",
    "score": None,  # relevance: no separate score here, keep the default order
}


def _fq_filter(qs: QuerySet[Dataset], fq: str) -> QuerySet[Dataset]:
    rest = _FQ_FIELD.sub("", fq).replace("AND", "").strip()
    if rest:
        raise CkanError(
            f"fq: cannot parse {rest!r}; use field:value pairs (tags, organization, name, res_format, license_id)",
            kind="Search Query Error",
        )
    for sign, field, quoted, bare in _FQ_FIELD.findall(fq):
        value = quoted if quoted else bare
        if field == "tags":
            cond = Q(tags__contains=[value])
        elif field == "organization":
            cond = Q(owner_department__code=value)
        elif field == "name":
            cond = Q(slug=value)
        elif field == "license_id":
            cond = Q(licence=value)
        elif field == "res_format":
            cond = Q() if value.upper() == "CSV" else Q(pk__in=[])
        elif field in ("dataset_type", "type"):
            cond = Q() if value == "dataset" else Q(pk__in=[])
        else:
            raise CkanError(f"fq: unknown field {field!r}", kind="Search Query Error")
        qs = qs.exclude(cond) if sign == "-" else qs.filter(cond)
    return qs


def _sort(sort: str) -> list[str]:
    out = []
    for part in [p.strip() for p in (sort or "").split(",") if p.strip()]:
        bits = part.split()
        field, direction = bits[0], (bits[1].lower() if len(bits) > 1 else "asc")
        if field not in _SORTS or direction not in ("asc", "desc") or len(bits) > 2:
            raise CkanError(
                f"sort: cannot sort by {part!r} (name, title_string, metadata_modified, metadata_created; asc/desc)",
                kind="Search Query Error",
            )
        if _SORTS[field]:
            out.append(("-" if direction == "desc" else "") + _SORTS[field])
    return out + ["id"]


def package_search(*, q: str = "", fq: str = "", sort: str = "", rows: int = 10, start: int = 0) -> tuple[int, list]:
    qs = public_datasets()
    q = (q or "").strip()
    if q and q != "*:*":
        for term in q.split():
            field, sep, value = term.partition(":")
            if sep and field in ("tags", "organization", "name"):
                qs = _fq_filter(qs, term)
                continue
            qs = qs.filter(
                Q(title__icontains=term)
                | Q(description__icontains=term)
                | Q(slug__icontains=term)
                | Q(tags__contains=[term])
                | Q(owner_department__name__icontains=term)
            )
    if fq:
        qs = _fq_filter(qs, fq)
    qs = qs.order_by(*_sort(sort))
    count = qs.count()
    return count, list(qs[start : start + rows])


def tag_list(*, query: str = "") -> list[str]:
    tags: set[str] = set()
    for row in public_datasets().values_list("tags", flat=True):
        tags.update(row)
    query = (query or "").strip().lower()
    return sorted(t for t in tags if query in t.lower())


def organizations() -> QuerySet[Department]:
    """Departments that own at least one public dataset."""
    ids = public_datasets().values_list("owner_department_id", flat=True)
    return Department.objects.filter(id__in=ids).order_by("code")
