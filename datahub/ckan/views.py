"""A CKAN-compatible open data API at /ckan/api/3/action/<action> (and /ckan/api/action/, CKAN's
unversioned alias that the `ckanapi` client calls), over the public datasets.

Plain Django views, not DRF: CKAN fixes the envelope (`{"help", "success", "result"}`), the error
shape (`{"error": {"__type": "Not Found Error", "message": ...}}`) and accepts each action by GET
with query parameters or by POST with a JSON body. Existing CKAN clients and harvesters work
unchanged: the tests drive it with the real `ckanapi` client.
"""

from __future__ import annotations

import csv
import io
import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.throttling import AnonRateThrottle

from datahub.datasets import selectors as dataset_sel

from . import selectors as sel
from .selectors import CkanError

# CKAN's own bounds: package_search rows ≤ 1000; datastore_search limit ≤ 32000 (default 100).
MAX_ROWS = 1000
MAX_LIMIT = 32000


class CkanThrottle(AnonRateThrottle):
    """Every public endpoint has a quota: per client address, shared by all web processes (Redis cache)."""

    scope = "ckan"

    def get_rate(self) -> str:
        return getattr(settings, "CKAN_RATE", "600/min")


def _params(request) -> dict:
    if request.method == "POST" and request.body:
        ctype = request.content_type or ""
        if ctype.startswith("application/json") or request.body[:1] in (b"{", b"["):
            try:
                body = json.loads(request.body)
            except (ValueError, UnicodeDecodeError):
                raise CkanError("Bad request - JSON Error: the body is not valid JSON", status=400) from None
            if not isinstance(body, dict):
                raise CkanError("Bad request - JSON Error: the body must be a JSON object", status=400)
            return body
        return {k: request.POST.get(k) for k in request.POST}
    return {k: request.GET.get(k) for k in request.GET}


def _int(params: dict, name: str, *, default: int, low: int = 0, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise CkanError(f"{name}: Invalid integer", fields={name: ["Invalid integer"]}) from None
    if not low <= value <= high:
        raise CkanError(
            f"{name}: Must be between {low} and {high}", fields={name: [f"Must be between {low} and {high}"]}
        )
    return value


def _json_param(params: dict, name: str):
    raw = params.get(name)
    if isinstance(raw, str) and raw.strip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError:
            raise CkanError(f"{name}: Cannot parse JSON", fields={name: ["Cannot parse JSON"]}) from None
    return raw


def _base(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# --- actions -----------------------------------------------------------------------------------------


def package_list(request, p):
    limit = _int(p, "limit", default=MAX_ROWS * 10, high=MAX_ROWS * 10)
    offset = _int(p, "offset", default=0, high=10**9)
    names = sel.public_datasets().order_by("slug").values_list("slug", flat=True)
    return list(names[offset : offset + limit])


def package_show(request, p):
    return sel.package_dict(sel.dataset_by_ref(str(p.get("id") or p.get("name_or_id") or "")), base_url=_base(request))


def package_search(request, p):
    rows = _int(p, "rows", default=10, high=MAX_ROWS)
    start = _int(p, "start", default=0, high=10**9)
    fq = p.get("fq") or ""
    if isinstance(fq, list):
        fq = " ".join(str(x) for x in fq)
    count, results = sel.package_search(
        q=str(p.get("q") or ""), fq=str(fq), sort=str(p.get("sort") or ""), rows=rows, start=start
    )
    base = _base(request)
    return {
        "count": count,
        "sort": p.get("sort") or "score desc, metadata_modified desc",
        "results": [sel.package_dict(ds, base_url=base) for ds in results],
        "facets": {},
        "search_facets": {},
    }


def organization_list(request, p):
    orgs = sel.organizations()
    all_fields = str(p.get("all_fields", "")).lower() in ("true", "1")
    if all_fields:
        return [sel.organization_dict(d) for d in orgs]
    return [d.code for d in orgs]


def organization_show(request, p):
    ref = str(p.get("id") or "")
    for dept in sel.organizations():
        if ref in (dept.code, sel.organization_id(dept.id)):
            return sel.organization_dict(dept)
    raise CkanError("Organization not found", kind="Not Found Error", status=404)


def tag_list(request, p):
    return sel.tag_list(query=str(p.get("query") or ""))


def resource_show(request, p):
    ds = sel.dataset_by_resource(str(p.get("id") or ""))
    return sel.resource_dict(ds, base_url=_base(request))


def _datastore_params(ds, p) -> dict:
    """CKAN's datastore_search arguments → the datahub records query (datahub.datasets.selectors)."""
    params: dict = {}
    filters = _json_param(p, "filters")
    if filters:
        if not isinstance(filters, dict):
            raise CkanError("filters: Not a JSON object", fields={"filters": ["Not a JSON object"]})
        params["filters"] = json.dumps(filters)
    q = _json_param(p, "q")
    if isinstance(q, dict):  # per-field full text: {"name": "text"} → contains
        for field, text in q.items():
            params[f"{field}__contains"] = str(text)
    elif q:
        params["q"] = str(q)
    sort = p.get("sort") or ""
    parts = []
    for part in [x.strip() for x in str(sort).split(",") if x.strip()]:
        bits = part.split()
        if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise CkanError(f"sort: cannot sort by {part!r}", fields={"sort": [f"Cannot sort by {part!r}"]})
        name = bits[0].strip('"')
        if name == "_id":
            name = "_key"
        parts.append(("-" if len(bits) == 2 and bits[1].lower() == "desc" else "") + name)
    if parts:
        params["sort"] = ",".join(parts)
    return params


def datastore_search(request, p):
    ds = sel.dataset_by_resource(str(p.get("resource_id") or p.get("id") or ""))
    limit = _int(p, "limit", default=100, high=MAX_LIMIT)
    offset = _int(p, "offset", default=0, high=10**9)
    try:
        qs = dataset_sel.records_query(ds, _datastore_params(ds, p))
    except dataset_sel.QueryError as e:
        raise CkanError(str(e), fields={"filters": [str(e)]}) from None
    schema = list(ds.fields.order_by("position"))
    wanted = p.get("fields")
    if isinstance(wanted, str):
        wanted = [f.strip() for f in wanted.split(",") if f.strip()]
    known = {f.name for f in schema}
    if wanted:
        unknown = [f for f in wanted if f not in known and f != "_id"]
        if unknown:
            raise CkanError(f"fields: field {unknown[0]!r} not in the resource", fields={"fields": unknown})
        schema = [f for f in schema if f.name in wanted]
    fields = [{"id": "_id", "type": "int"}] + [
        {"id": f.name, "type": sel.DATASTORE_TYPES.get(f.type, "text"), "info": {"label": f.title, "unit": f.unit}}
        for f in schema
    ]
    names = [f.name for f in schema]
    rows = qs.values_list("id", "data")[offset : offset + limit]
    records = [{"_id": pk, **{n: data.get(n) for n in names}} for pk, data in rows]
    include_total = str(p.get("include_total", "true")).lower() not in ("false", "0")
    rid = sel.resource_id(ds.id)
    base = f"/api/3/action/datastore_search?resource_id={rid}&limit={limit}"
    result = {
        "resource_id": rid,
        "fields": fields,
        "records": records,
        "limit": limit,
        "offset": offset,
        "_links": {"start": base, "next": f"{base}&offset={offset + limit}"},
    }
    if include_total:
        result["total"] = qs.count()
        result["total_was_estimated"] = False
    return result


def status_show(request, p):
    return {
        "site_title": "CityOS open data",
        "site_url": _base(request),
        "ckan_version": "2.10.0",
        "api_version": 3,
        "extensions": ["datastore"],
        "locale_default": "zh_Hans",
    }


ACTIONS = {
    f.__name__: f
    for f in (
        package_list,
        package_show,
        package_search,
        organization_list,
        organization_show,
        tag_list,
        resource_show,
        datastore_search,
        status_show,
    )
}


def _envelope(request, action: str, *, result=None, error: CkanError | None = None, status: int = 200):
    body = {"help": request.build_absolute_uri(f"/ckan/api/3/action/help_show?name={action}")}
    if error is None:
        body.update(success=True, result=result)
    else:
        err = {"__type": error.kind, "message": f"{error.kind}: {error}"}
        for field, messages in error.fields.items():
            err[field] = messages
        body.update(success=False, error=err)
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def action(request, name: str):
    throttle = CkanThrottle()
    if not throttle.allow_request(request, None):
        wait = int(throttle.wait() or 1)
        response = _envelope(request, name, error=CkanError("Too many requests", kind="Throttled"), status=429)
        response["Retry-After"] = str(max(wait, 1))
        return response
    handler = ACTIONS.get(name)
    if handler is None:
        return _envelope(
            request, name, error=CkanError(f"Action name not known: {name}", kind="Not Found Error"), status=404
        )
    try:
        return _envelope(request, name, result=handler(request, _params(request)))
    except CkanError as e:
        return _envelope(request, name, error=e, status=e.status)


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return v


@require_GET
def download(request, slug: str):
    """The CSV behind a package's resource `url`: the current rows of a public dataset, streamed."""
    try:
        ds = sel.dataset_by_ref(slug)
    except CkanError as e:
        return HttpResponse(str(e), status=e.status, content_type="text/plain; charset=utf-8")
    names = [f.name for f in ds.fields.order_by("position") if f.type != "geometry"]
    rows = dataset_sel.records_at(ds).order_by("key").values_list("data", flat=True)

    def stream():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(names)
        for i, data in enumerate(rows.iterator(chunk_size=2000), start=1):
            w.writerow([_cell(data.get(n)) for n in names])
            if i % 1000 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{ds.slug}.csv"'
    return response
