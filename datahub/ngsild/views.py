"""The NGSI-LD context API (ETSI GS CIM 009) at /ngsi-ld/v1/.

Plain Django views, not DRF: NGSI-LD fixes its own media types (application/ld+json with an
`@context`, or application/json with the context in a Link header), its problem-details errors
(`BadRequestData`, `InvalidRequest`, `ResourceNotFound`, `AlreadyExists`…) and status codes, and
its paging headers. Callers authenticate as on the CityOS API (`Authorization: Token …` or a session).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from functools import wraps
from pathlib import Path

from django.contrib.gis.geos import GEOSGeometry
from django.contrib.gis.measure import D
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed

from cityos.api import keys
from cityos.api.authentication import authenticate_request
from datahub.iot.selectors import series
from datahub.models import Area

from . import query
from . import services as svc
from .models import NgsiSubscription
from .selectors import (
    AREA_TYPE,
    DATAHUB_TYPE,
    TYPE_OF,
    NgsiError,
    Ref,
    bad,
    device_of,
    entities_visible_to,
    latest_for,
    parse_when,
    render,
    resolve,
)

CONTEXT_FILE = Path(__file__).with_name("core-context.jsonld")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20
# `q` is evaluated per entity after the SQL filters (type, id, geo): beyond this many candidates
# the caller is asked to narrow the query (a type or a geo-query) instead of scanning the registry.
MAX_Q_CANDIDATES = 20000
MAX_TEMPORAL_POINTS = 10000


# Per-user quota of token and session callers: a GCRA in Redis like the API keys' (DRF's
# UserRateThrottle keeps a list of every call's time per user and rewrites it on each call: at
# 6,000/min that list cost ~2 ms a request). API keys have their own plan's quota instead.
USER_LIMITS = [(60, 6000)]


def _throttled(request, user) -> NgsiError | None:
    if getattr(request, "cityos_api_key", None) is not None:
        return None  # quota already taken by the key's plan (cityos.api.middleware)
    allowed, retry_us, _remaining = keys.gcra_take(f"ngsild-user:{user.pk}", USER_LIMITS)
    if allowed:
        return None
    e = NgsiError("TooManyRequests", "rate limit exceeded", 429)
    e.retry_after = max(int(retry_us / 1_000_000 + 0.999), 1)
    return e


def _context_url(request) -> str:
    return request.build_absolute_uri("/ngsi-ld/v1/contexts/core.jsonld")


def _problem(e: NgsiError) -> JsonResponse:
    return JsonResponse(svc.problem(e), status=e.status, content_type="application/json")


def _respond(request, data, status: int = 200, headers: dict | None = None, entities: bool = True) -> HttpResponse:
    """JSON-LD with an @context when the client accepts it, else JSON with the context in a Link
    header. Bodies that are not entities (batch results, multi-status) are plain JSON."""
    accept = request.headers.get("Accept", "application/json")
    ld = entities and "application/ld+json" in accept
    ctx = request.ngsi_context or _context_url(request)
    if ld:
        if isinstance(data, list):
            data = [{**item, "@context": ctx} if isinstance(item, dict) else item for item in data]
        elif isinstance(data, dict):
            data = {**data, "@context": ctx}
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False),
        status=status,
        content_type="application/ld+json" if ld else "application/json",
    )
    if not ld and entities:
        response["Link"] = f'<{ctx}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def _link_context(request) -> str | None:
    link = request.headers.get("Link", "")
    m = re.search(r"<([^>]+)>\s*;[^,]*rel=\"?http://www\.w3\.org/ns/json-ld#context\"?", link)
    return m.group(1) if m else None


def _body(request):
    """The JSON body, checked against the NGSI-LD media-type rules (§6.3.5)."""
    ctype = (request.content_type or "").lower()
    if ctype not in ("application/json", "application/ld+json", "application/merge-patch+json"):
        raise NgsiError(
            "InvalidRequest", f"Content-Type {ctype or 'missing'}: use application/json or application/ld+json", 415
        )
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise NgsiError("InvalidRequest", "the body is not valid JSON", 400) from None
    items = body if isinstance(body, list) else [body]
    for item in items:
        if not isinstance(item, dict):
            continue
        if ctype == "application/ld+json" and "@context" not in item:
            raise bad("application/ld+json bodies must carry an @context")
        if ctype == "application/json" and "@context" in item:
            raise bad("an @context goes in a Link header with application/json, or use application/ld+json")
    return body


def ngsi_view(methods: tuple[str, ...]):
    """Authenticate (token or session), throttle, dispatch by method, turn NgsiErrors into problems."""

    def wrap(fn):
        @csrf_exempt
        @wraps(fn)
        def view(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise NgsiError("OperationNotSupported", f"{request.method} is not allowed here", 405)
                try:
                    user = authenticate_request(request)
                except AuthenticationFailed as e:
                    raise NgsiError("Unauthorized", str(e.detail), 401) from None
                if user is None or not user.is_authenticated:
                    raise NgsiError("Unauthorized", "authenticate with `Authorization: Token <key>` or a session", 401)
                request.ngsi_user = user
                throttled = _throttled(request, user)
                if throttled is not None:
                    response = _problem(throttled)
                    response["Retry-After"] = str(throttled.retry_after)
                    return response
                request.ngsi_context = None
                if request.method == "GET":
                    request.ngsi_context = _link_context(request)
                return fn(request, *args, **kwargs)
            except NgsiError as e:
                return _problem(e)

        return view

    return wrap


def _csv_param(request, name: str) -> list[str]:
    raw = request.GET.get(name, "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def _short(name: str) -> str:
    """A type or attribute given as a full URI (expanded by a client's context) → its term."""
    return re.split(r"[/#]", name)[-1] if "/" in name or "#" in name else name


def _options(request) -> tuple[bool, bool]:
    options = set(_csv_param(request, "options"))
    key_values = "keyValues" in options or request.GET.get("format") in ("keyValues", "simplified")
    return key_values, "sysAttrs" in options


def _int(request, name: str, default: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) > high:
        raise bad(f"{name}: a whole number from 0 to {high}")
    return int(raw)


# --- geo-queries ---------------------------------------------------------------------------------------


def _geo_filter(request, field: str, alt_field: str | None = None) -> Q | None:
    georel = request.GET.get("georel")
    geometry = request.GET.get("geometry")
    coordinates = request.GET.get("coordinates")
    if not (georel or geometry or coordinates):
        return None
    if not (georel and geometry and coordinates):
        raise bad("georel, geometry and coordinates go together")
    prop = request.GET.get("geoproperty", "location")
    if prop != "location":
        raise bad("geoproperty: only location is indexed")
    try:
        coords = json.loads(coordinates)
        geom = GEOSGeometry(json.dumps({"type": geometry, "coordinates": coords}), srid=4326)
    except (ValueError, TypeError) as e:
        raise bad(f"coordinates: not a valid {geometry} ({e})") from None
    x0, y0, x1, y1 = geom.extent
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise bad("coordinates: out of range")
    rel, *mods = georel.split(";")
    fields = [field] + ([alt_field] if alt_field else [])

    def cond(lookup: str, value) -> Q:
        out = Q()
        for f in fields:
            out |= Q(**{f"{f}__{lookup}": value})
        return out

    if rel == "near":
        if len(mods) != 1 or not re.fullmatch(r"(maxDistance|minDistance)==\d+(\.\d+)?", mods[0]):
            raise bad("georel: near;maxDistance==<metres> or near;minDistance==<metres>")
        which, metres = mods[0].split("==")
        metres = float(metres)
        # Spheroid distances in metres (distance_* on a geographic field): dwithin would want degrees.
        return cond("distance_lte" if which == "maxDistance" else "distance_gte", (geom, D(m=metres)))
    lookups = {
        "within": "within",
        "contains": "contains",
        "intersects": "intersects",
        "equals": "equals",
        "disjoint": "disjoint",
        "overlaps": "overlaps",
    }
    if rel not in lookups or mods:
        raise bad(f"georel: {georel!r} (near, within, contains, intersects, equals, disjoint, overlaps)")
    return cond(lookups[rel], geom)


# --- entities ----------------------------------------------------------------------------------------


@ngsi_view(("GET", "POST"))
def entities(request):
    user = request.ngsi_user
    if request.method == "POST":
        body = _body(request)
        eid = svc.entity_create(user=user, body=body)
        return HttpResponse(status=201, headers={"Location": f"/ngsi-ld/v1/entities/{eid}"})
    types = [_short(t) for t in _csv_param(request, "type")]
    ids = _csv_param(request, "id")
    id_pattern = request.GET.get("idPattern")
    attrs = [_short(a) for a in _csv_param(request, "attrs")]
    q = request.GET.get("q")
    if not (types or ids or id_pattern or attrs or q or request.GET.get("georel")):
        raise bad("a query needs at least one of type, id, idPattern, attrs, q or a geo-query")
    limit = _int(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int(request, "offset", 0, 10**9)
    key_values, sys_attrs = _options(request)
    predicate = query.parse(q) if q else None
    if id_pattern:
        try:
            re.compile(id_pattern)
        except re.error:
            raise bad(f"idPattern: {id_pattern!r} is not a regular expression") from None

    refs: list[Ref] = []
    want_areas = not types or AREA_TYPE in types
    entity_types = [t for t in types if t != AREA_TYPE]
    if not types or entity_types:
        qs = entities_visible_to(user).prefetch_related("device__datastreams")
        if entity_types:
            cond = Q()
            for t in entity_types:
                cond |= Q(attributes__ngsi_type=t) | (
                    Q(type=DATAHUB_TYPE[t]) & ~Q(attributes__has_key="ngsi_type") if t in DATAHUB_TYPE else Q(pk__in=[])
                )
            qs = qs.filter(cond)
        geo = _geo_filter(request, "geometry", "device__point")
        if geo is not None:
            qs = qs.filter(geo)
        refs += [Ref(entity=e) for e in qs.order_by("id")[: MAX_Q_CANDIDATES + 1]]
    if want_areas:
        aqs = Area.objects.select_related("parent").order_by("id")
        geo = _geo_filter(request, "geometry")
        if geo is not None:
            aqs = aqs.filter(geo)
        refs += [Ref(area=a) for a in aqs[: MAX_Q_CANDIDATES + 1]]
    if len(refs) > MAX_Q_CANDIDATES and (predicate or ids or id_pattern or attrs):
        raise bad(
            f"the query matches more than {MAX_Q_CANDIDATES} entities before q/id filters: add a type or a geo-query"
        )
    latest = latest_for([r.entity for r in refs if r.entity is not None])
    matched = []
    for ref in refs:
        full = render(ref, latest=latest)
        if ids and full["id"] not in ids:
            continue
        if id_pattern and not re.search(id_pattern, full["id"]):
            continue
        if attrs and not any(a in full for a in attrs):
            continue
        if predicate and not predicate(full):
            continue
        matched.append(ref)
    page = matched[offset : offset + limit]
    data = [render(r, attrs=attrs or None, key_values=key_values, sys_attrs=sys_attrs, latest=latest) for r in page]
    headers = {}
    if request.GET.get("count") == "true":
        headers["NGSILD-Results-Count"] = str(len(matched))
    return _respond(request, data, headers=headers)


@ngsi_view(("GET", "DELETE"))
def entity(request, eid: str):
    user = request.ngsi_user
    if request.method == "DELETE":
        svc.entity_delete(user=user, eid=eid)
        return HttpResponse(status=204)
    ref = resolve(eid, user)
    key_values, sys_attrs = _options(request)
    attrs = [_short(a) for a in _csv_param(request, "attrs")] or None
    return _respond(request, render(ref, attrs=attrs, key_values=key_values, sys_attrs=sys_attrs))


@ngsi_view(("PATCH", "POST"))
def entity_attrs(request, eid: str):
    body = _body(request)
    if request.method == "PATCH":
        not_updated = svc.entity_update(user=request.ngsi_user, eid=eid, attrs_body=body, append=False)
        if not_updated:
            return _respond(
                request,
                {
                    "updated": [k for k in body if k not in not_updated and k != "@context"],
                    "notUpdated": [{"attributeName": k, "reason": "no such attribute"} for k in not_updated],
                },
                status=207,
            )
        return HttpResponse(status=204)
    overwrite = "noOverwrite" not in _csv_param(request, "options")
    not_added = svc.entity_update(user=request.ngsi_user, eid=eid, attrs_body=body, append=True, overwrite=overwrite)
    if not_added:
        return _respond(
            request,
            {
                "updated": [k for k in body if k not in not_added and k != "@context"],
                "notUpdated": [{"attributeName": k, "reason": "exists (noOverwrite)"} for k in not_added],
            },
            status=207,
            entities=False,
        )
    return HttpResponse(status=204)


@ngsi_view(("PATCH", "DELETE"))
def entity_attr(request, eid: str, attr: str):
    if request.method == "DELETE":
        svc.attribute_delete(user=request.ngsi_user, eid=eid, name=attr)
        return HttpResponse(status=204)
    body = _body(request)
    if not isinstance(body, dict):
        raise bad("an attribute fragment must be a JSON object")
    ref = resolve(eid, request.ngsi_user)
    stored = ((ref.entity.attributes or {}).get("ngsi") or {}) if ref.entity else {}
    if attr not in stored:
        raise NgsiError("ResourceNotFound", f"{eid}: no attribute {attr!r}", 404)
    merged = {**stored[attr], **{k: v for k, v in body.items() if k != "@context"}}
    svc.entity_update(user=request.ngsi_user, eid=eid, attrs_body={attr: merged}, append=False)
    return HttpResponse(status=204)


@ngsi_view(("POST",))
def batch(request, operation: str):
    user = request.ngsi_user
    items = _body(request)
    if not isinstance(items, list):
        raise bad("a batch operation takes a JSON array")
    if operation == "delete":
        errors, done = [], []
        for eid in items:
            try:
                svc.entity_delete(user=user, eid=eid)
                done.append(eid)
            except NgsiError as e:
                errors.append({"entityId": eid, "error": svc.problem(e)})
        return (
            _respond(request, {"success": done, "errors": errors}, status=207, entities=False)
            if errors
            else HttpResponse(status=204)
        )
    if operation == "create":
        created, errors = [], []
        for body in items[:1000]:
            try:
                created.append(svc.entity_create(user=user, body=body))
            except NgsiError as e:
                errors.append({"entityId": body.get("id") if isinstance(body, dict) else None, "error": svc.problem(e)})
        if errors:
            return _respond(request, {"success": created, "errors": errors}, status=207, entities=False)
        return _respond(request, created, status=201, entities=False)
    options = _csv_param(request, "options")
    if operation == "update":
        done, errors = [], []
        for body in items[:1000]:
            eid = body.get("id") if isinstance(body, dict) else None
            try:
                svc.entity_update(
                    user=user, eid=eid, attrs_body=body, append=True, overwrite="noOverwrite" not in options
                )
                done.append(eid)
            except NgsiError as e:
                errors.append({"entityId": eid, "error": svc.problem(e)})
        return (
            _respond(request, {"success": done, "errors": errors}, status=207, entities=False)
            if errors
            else HttpResponse(status=204)
        )
    created, updated, errors = svc.batch_upsert(user=user, items=items, update="update" in options)
    if errors:
        return _respond(request, {"success": created + updated, "errors": errors}, status=207, entities=False)
    if created:
        return _respond(request, created, status=201, entities=False)
    return HttpResponse(status=204)


@ngsi_view(("GET",))
def types(request):
    user = request.ngsi_user
    names = set()
    for dh_type, ngsi in entities_visible_to(user).values_list("type", "attributes__ngsi_type").distinct():
        names.add(ngsi or TYPE_OF.get(dh_type, "Thing"))
    if Area.objects.exists():
        names.add(AREA_TYPE)
    return _respond(
        request,
        {"id": "urn:ngsi-ld:EntityTypeList:cityos", "type": "EntityTypeList", "typeList": sorted(names)},
    )


# --- temporal --------------------------------------------------------------------------------------------


def _when(request, name: str):
    raw = request.GET.get(name)
    if not raw:
        return None
    at = parse_when(raw)
    if at is None:
        raise bad(f"{name}: an ISO 8601 date-time with a time zone, years 1900 to 2200")
    return at


@ngsi_view(("GET",))
def temporal_entity(request, eid: str):
    """Attribute history from the datahub's observations (devices), in the normalized temporal
    representation or, with options=temporalValues, as [[value, time], …] pairs."""
    ref = resolve(eid, request.ngsi_user)
    timerel = request.GET.get("timerel")
    at, end_at = _when(request, "timeAt"), _when(request, "endTimeAt")
    now = timezone.now()
    if timerel is None:
        start, end = now - timedelta(days=1), now + timedelta(seconds=1)
    elif timerel == "before" and at:
        start, end = at - timedelta(days=3650), at
    elif timerel == "after" and at:
        start, end = at + timedelta(microseconds=1), now + timedelta(days=1)
    elif timerel == "between" and at and end_at:
        if end_at <= at:
            raise bad("endTimeAt must be after timeAt")
        start, end = at, end_at
    else:
        raise bad("timerel: before|after with timeAt, or between with timeAt and endTimeAt")
    last_n = _int(request, "lastN", 0, MAX_TEMPORAL_POINTS)
    wanted = [_short(a) for a in _csv_param(request, "attrs")]
    temporal_values = "temporalValues" in _csv_param(request, "options")
    out = render(ref, attrs=["name", "location"] if not wanted else [w for w in wanted if w in ("name", "location")])
    device = device_of(ref)
    if device is not None:
        for ds in device.datastreams.order_by("metric"):
            if wanted and ds.metric not in wanted:
                continue
            points = series(
                datastream_id=ds.id, start=start, end=end, resolution="raw", limit=MAX_TEMPORAL_POINTS
            ).points
            if last_n:
                points = points[-last_n:]
            if temporal_values:
                out[ds.metric] = {
                    "type": "Property",
                    "values": [[p["value"], p["time"].isoformat().replace("+00:00", "Z")] for p in points],
                }
            else:
                instances = []
                for p in points:
                    inst = {
                        "type": "Property",
                        "value": p["value"],
                        "observedAt": p["time"].isoformat().replace("+00:00", "Z"),
                    }
                    if ds.unit:
                        inst["unitCode"] = ds.unit
                    instances.append(inst)
                out[ds.metric] = instances
    return _respond(request, out)


# --- subscriptions ----------------------------------------------------------------------------------------


def _subscription_dict(sub: NgsiSubscription) -> dict:
    out = {
        "id": sub.sid,
        "type": "Subscription",
        "entities": sub.entities,
        "notification": {
            **sub.notification,
            "status": "failed"
            if sub.last_failure and (not sub.last_success or sub.last_failure > sub.last_success)
            else "ok",
            "timesSent": sub.times_sent,
        },
        "isActive": sub.is_active,
        "status": "active" if sub.is_active else "paused",
    }
    if sub.description:
        out["description"] = sub.description
    if sub.watched_attributes:
        out["watchedAttributes"] = sub.watched_attributes
    if sub.q:
        out["q"] = sub.q
    if sub.throttling:
        out["throttling"] = sub.throttling
    if sub.expires_at:
        out["expiresAt"] = sub.expires_at.isoformat().replace("+00:00", "Z")
    for name, value in (
        ("lastNotification", sub.last_notification),
        ("lastSuccess", sub.last_success),
        ("lastFailure", sub.last_failure),
    ):
        if value:
            out["notification"][name] = value.isoformat().replace("+00:00", "Z")
    return out


def _own_subscription(request, sid: str) -> NgsiSubscription:
    user = request.ngsi_user
    sub = NgsiSubscription.objects.filter(sid=sid).first()
    if sub is None or (sub.owner_id != user.id and not user.is_superuser and user.role != "administrator"):
        raise NgsiError("ResourceNotFound", f"{sid}: no such subscription", 404)
    return sub


@ngsi_view(("GET", "POST"))
def subscriptions(request):
    user = request.ngsi_user
    if request.method == "POST":
        sub = svc.subscription_create(user=user, body=_body(request))
        return HttpResponse(status=201, headers={"Location": f"/ngsi-ld/v1/subscriptions/{sub.sid}"})
    limit = _int(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int(request, "offset", 0, 10**9)
    qs = NgsiSubscription.objects.filter(owner=user).order_by("id")
    return _respond(request, [_subscription_dict(s) for s in qs[offset : offset + limit]])


@ngsi_view(("GET", "PATCH", "DELETE"))
def subscription(request, sid: str):
    sub = _own_subscription(request, sid)
    if request.method == "DELETE":
        svc.subscription_delete(sub=sub)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        svc.subscription_update(sub=sub, body=_body(request))
        return HttpResponse(status=204)
    return _respond(request, _subscription_dict(sub))


def core_context(request):
    """The core @context, served from this deployment (the machines reach no outside host)."""
    return HttpResponse(CONTEXT_FILE.read_bytes(), content_type="application/ld+json")
