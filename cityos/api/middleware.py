"""API keys on every API path: checked, scoped, rate-limited and metered in one place.

A request with `Authorization: Api-Key …` is handled here before any view (DRF or plain Django:
NGSI-LD, CKAN): an unknown, expired, revoked or malformed key is a 401, a missing scope a 403
naming the scope, an exhausted quota a 429 with Retry-After and RateLimit-* headers. Every call
of a valid key is counted (see cityos.api.keys). Requests without an API key pass untouched.
"""

from __future__ import annotations

import copy
import time

from django.contrib.auth import get_user_model
from django.http import JsonResponse

from cityos.roles import Role

from . import keys

API_PATHS = ("/api/v1/", "/ngsi-ld/v1/")
_users: dict[int, tuple[float, object]] = {}


def _error(code: str, message: str, status: int, **extra) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Api-Key realm="CityOS"'
    return response


def _refuse_save(*_args, **_kwargs):
    raise RuntimeError("an API key's limited user is not a real account: it cannot be saved")


def _effective_user(info: keys.KeyInfo):
    """The owner, limited to what an external developer sees unless the application was granted its
    owner's access by an administrator. Cached per process like the key itself."""
    hit = _users.get(info.owner_id)
    now = time.monotonic()
    if hit is None or now - hit[0] > keys.CACHE_SECONDS:
        owner = get_user_model().objects.filter(id=info.owner_id, is_active=True).first()
        _users[info.owner_id] = hit = (now, owner)
    owner = hit[1]
    if owner is None:
        return None
    user = copy.copy(owner)
    if info.access_level != "owner":
        user.role = Role.EXTERNAL_DEVELOPER
        user.is_superuser = user.is_staff = False
        user.department_id = None
        user.save = _refuse_save
    return user


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


class ApiKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except BaseException:
            in_flight = getattr(request, "cityos_quota_in_flight", None)
            if in_flight is not None:  # read the answer anyway: the connection goes back clean
                request.cityos_quota_in_flight = None
                in_flight.answer()
            raise
        in_flight = getattr(request, "cityos_quota_in_flight", None)
        if in_flight is not None:
            request.cityos_quota_in_flight = None
            refused = self._quota_answer(request, in_flight.answer())
            if refused is not None:
                return refused  # the read's body is dropped: the key had no call left
        return response

    @staticmethod
    def _quota_answer(request, answer):
        allowed, retry, headers = answer
        if not allowed:
            response = _error("rate_limited", f"Quota exceeded: retry in {retry:.2f} s.", 429)
            response["Retry-After"] = str(max(int(retry + 0.999), 1))
            for k, v in headers.items():
                response[k] = v
            return response
        request.cityos_ratelimit_headers = headers
        return None

    def process_view(self, request, view_func, view_args, view_kwargs):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Api-Key"):
            return None
        if not request.path.startswith(API_PATHS):
            return None  # pages, schema and docs: a key is not a credential there
        try:
            info = keys.api_key_check(header[len("Api-Key") :], remote_ip=_client_ip(request))
        except keys.KeyError_ as e:
            return _error(e.code, e.message, e.status)
        request.cityos_api_key = info  # from here on every answer is metered (ApiKeyMeteringMiddleware)
        view_cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        scope = keys.scope_for(request.path, request.method, getattr(view_cls, "required_scope", None))
        if scope is None:
            return _error("scope_unavailable", "This endpoint is not open to API keys.", 403)
        if scope not in info.scopes:
            return _error("missing_scope", f"This key lacks the scope {scope}.", 403, scope=scope)
        user = _effective_user(info)
        if user is None:
            return _error("api_key_unknown", "Api-Key: the key's owner is no longer active.", 401)
        if keys.quotas_enabled():
            # Reads (no side effects) run while Redis answers the quota call: its round trip
            # overlaps the view's database work (an NGSI-LD retrieval by id waited for Redis, then
            # for PostgreSQL). Writes wait for the answer first: a refused write must change nothing.
            in_flight = keys.quota_send(info) if request.method in ("GET", "HEAD", "OPTIONS") else None
            if in_flight is not None:
                request.cityos_quota_in_flight = in_flight
            else:
                refused = self._quota_answer(request, keys.quota_take(info))
                if refused is not None:
                    return refused
        request.cityos_api_user = user
        request.user = user
        return None

    @staticmethod
    def _meter(request, info, response) -> None:
        match = getattr(request, "resolver_match", None)
        # The URL pattern, not the path: one row per endpoint, not per object id.
        endpoint = (match.route.replace("^", "").replace("$", "") if match and match.route else request.path)[:200]
        keys.meter(info, endpoint=f"{request.method} {endpoint}", status=response.status_code)


class ApiKeyMeteringMiddleware:
    """Counts every answered call of a key (outermost, so errors and throttles count too) and adds
    the RateLimit-* headers. Separate from ApiKeyMiddleware, whose process_view runs too late to
    see the final response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        info = getattr(request, "cityos_api_key", None)
        if info is not None:
            for k, v in getattr(request, "cityos_ratelimit_headers", {}).items():
                response[k] = v
            ApiKeyMiddleware._meter(request, info, response)
        return response
