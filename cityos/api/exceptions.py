"""One JSON error format for the whole API.

    {"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]}}}

`code` is stable (clients may switch on it); `message` is human-readable and names the field,
row or column at fault; `fields` is present for validation errors.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """Raise from services/views for a domain error with a stable code."""

    status_code = 400
    default_code = "bad_request"
    default_detail = "Bad request."

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, extra: dict | None = None):
        super().__init__(detail=message, code=code or self.default_code)
        if status:
            self.status_code = status
        self.extra = extra or {}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = _first_message(value)
            return msg if key == "non_field_errors" else f"{key}: {msg}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _database_refusal(exc) -> exceptions.APIException | None:
    """The last line of defence: input that got past validation and was refused by PostgreSQL is
    still the client's error. A value out of range or malformed (SQLSTATE class 22, DataError) is a
    400; a uniqueness or reference conflict (class 23, IntegrityError) is a 409. Fields are
    validated at the edge first (cityos/api/fields.py), so this only names the value."""
    if isinstance(exc, DataError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "value out of range"
        return ApiError(f"value: {first}", code="invalid_value", status=400)
    if isinstance(exc, IntegrityError):
        return ApiError("conflict: the change conflicts with existing data", code="conflict", status=409)
    return None


def json_exception_handler(exc, context):
    exc = _database_refusal(exc) or exc
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        body = {"code": code, "message": _first_message(exc.detail), "fields": exc.detail}
        if isinstance(exc.detail, list):
            body["fields"] = {"non_field_errors": exc.detail}
    else:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        body = {"code": code, "message": _first_message(exc.detail)}
        body.update(getattr(exc, "extra", {}))
    return Response({"error": body}, status=response.status_code, headers=_copy_headers(response))


def _copy_headers(response):
    return {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
