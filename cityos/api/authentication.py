"""Authentication for the plain-Django API adapters (NGSI-LD…) with the same credentials as the DRF
API: the configured DRF authentication classes (token, session) in their order."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.settings import api_settings


def authenticate_request(request):
    """The user a request authenticates as (AnonymousUser when it carries no credentials).

    Raises rest_framework.exceptions.AuthenticationFailed for bad credentials (a wrong token),
    so the caller can answer 401 rather than treat the request as anonymous."""
    drf_request = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    user = drf_request.user
    # Session authentication enforces CSRF on unsafe methods: these adapters are called by
    # programs with tokens; a browser session may only read.
    if getattr(drf_request, "_authenticator", None).__class__.__name__ == "SessionAuthentication" and (
        request.method not in ("GET", "HEAD", "OPTIONS")
    ):
        from rest_framework.exceptions import AuthenticationFailed

        raise AuthenticationFailed("a session may only read here: send a token to write")
    return user


class ApiKeyAuthentication(BaseAuthentication):
    """DRF's view of a request that cityos.api.middleware.ApiKeyMiddleware already checked."""

    keyword = "Api-Key"

    def authenticate(self, request):
        info = getattr(request._request, "cityos_api_key", None)
        if info is None:
            return None
        return (request._request.cityos_api_user, info)

    def authenticate_header(self, request):
        return 'Api-Key realm="CityOS"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "cityos.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key cos_<prefix>_<secret>` (from the developer portal); scopes and quotas apply.",
        }
