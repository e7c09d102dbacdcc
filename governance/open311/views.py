"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) at /open311/v2/.

Plain Django views, not DRF: the documents' shapes (bare JSON arrays, XML element names, the
`[{"code", "description"}]` error list) are fixed by the spec, not by CityOS's API conventions.
"""

from functools import wraps
from urllib.parse import parse_qs

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from cityos.dates import parse_aware_datetime
from governance.models import Case
from governance.selectors import open311 as sel
from governance.services.errors import CaseError
from governance.services.open311 import open311_request_create

from .render import error, respond

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-24T00:00:00+08:00"


def jurisdiction(view):
    """The spec: `jurisdiction_id` is optional where an endpoint serves one jurisdiction, and an
    unknown one is a 404. Checked in the query string and (for POST) in the form."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        given = request.GET.get("jurisdiction_id") or (
            request.POST.get("jurisdiction_id") if request.method == "POST" else None
        )
        ours = settings.OPEN311_JURISDICTION_ID
        if given and given != ours:
            return error(kwargs.get("fmt", "json"), 404, f"jurisdiction_id: {given!r} is not served here ({ours})")
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET"])
def discovery(request, fmt: str):
    base = request.build_absolute_uri("/open311/v2/")
    return respond(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": getattr(settings, "OPEN311_CONTACT", "12345 Hotline Centre, 12345@binjiang.example"),
            "key_service": request.build_absolute_uri("/api/docs/"),
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@require_http_methods(["GET"])
@jurisdiction
def services(request, fmt: str):
    return respond(fmt, "services", [sel.open311_service_dict(c) for c in sel.open311_services()])


@require_http_methods(["GET"])
@jurisdiction
def service_definition(request, code: str, fmt: str):
    cat = sel.open311_services().filter(service_code=code).first()
    if cat is None:
        return error(fmt, 404, f"service_code: {code!r} is not a known service")
    return respond(fmt, "service_definition", sel.open311_definition_dict(cat))


def _list(request, name: str) -> list[str]:
    raw = request.GET.get(name, "")
    return [v.strip() for v in raw.split(",") if v.strip()]


@csrf_exempt
@require_http_methods(["GET", "POST"])
@jurisdiction
def requests_(request, fmt: str):
    if request.method == "POST":
        return _create(request, fmt)
    dates = {}
    for name in ("start_date", "end_date"):
        raw = request.GET.get(name)
        if raw:
            try:  # a '+' in an unencoded query string arrives as a space
                dates[name] = parse_aware_datetime(raw.replace(" ", "+"))
            except ValueError as exc:
                return error(fmt, 400, f"{name}: {exc}")
    statuses = _list(request, "status")
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        return error(fmt, 400, f"status: {bad[0]!r} is not open or closed")
    cases = sel.open311_requests(
        ids=_list(request, "service_request_id"),
        service_codes=_list(request, "service_code"),
        start=dates.get("start_date"),
        end=dates.get("end_date"),
        statuses=statuses,
    )
    return respond(fmt, "requests", [sel.open311_request_dict(c) for c in cases])


def _create(request, fmt: str):
    ctype = request.content_type or ""
    if "application/x-www-form-urlencoded" in ctype or "multipart/form-data" in ctype:
        form = {k: request.POST.getlist(k) for k in request.POST}
    else:
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    for k, v in request.GET.lists():  # the spec's Swagger puts the fields in the query string
        form.setdefault(k, v)
    key = (form.get("api_key") or [""])[0]
    token = Token.objects.select_related("user").filter(key=key).first() if key else None
    if token is None or not token.user.is_active:
        return error(fmt, 403, "api_key: missing or invalid API key")
    try:
        case = open311_request_create(form=form, user=token.user)
    except CaseError as exc:
        return error(fmt, exc.status_code, str(exc.detail))
    return respond(
        fmt,
        "requests",
        [
            {
                "service_request_id": case.tracking_number,
                "token": str(case.token),
                "service_notice": None,
                "account_id": None,
            }
        ],
        status=201,
    )


@require_http_methods(["GET"])
@jurisdiction
def request_detail(request, request_id: str, fmt: str):
    case = Case.objects.select_related("category", "department").filter(tracking_number=request_id).first()
    if case is None:
        return error(fmt, 404, f"service_request_id: no request {request_id!r}")
    return respond(fmt, "requests", [sel.open311_request_dict(case)])


@require_http_methods(["GET"])
@jurisdiction
def token_detail(request, token: str, fmt: str):
    try:
        case = Case.objects.filter(token=token).only("tracking_number", "token").first()
    except Exception:  # noqa: BLE001 - a malformed UUID is simply not a token we issued
        case = None
    if case is None:
        return error(fmt, 404, f"token: no request for token {token!r}")
    return respond(fmt, "requests", [{"service_request_id": case.tracking_number, "token": str(case.token)}])
