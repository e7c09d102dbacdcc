"""OpenAPI schema post-processing: the error responses every operation may give, declared once.

Every API error has the same body (cityos/api/exceptions.py). Rather than repeat it on each of
~150 operations, this drf-spectacular hook adds it where it applies and the view did not declare
that status itself:

- 400 everywhere (bad query parameters or body), 404 everywhere (unknown object or filter value),
  429 everywhere (throttles and API quotas);
- 401 and 403 on operations that need credentials;
- 409 on writes (a conflict with the current state, e.g. a duplicate), 415 on writes with a body.
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from rest_framework.fields import empty

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable code clients may switch on"},
                "message": {"type": "string", "description": "Human-readable; names the field, row or column"},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Per-field messages (validation errors only)",
                },
            },
            "additionalProperties": True,
        }
    },
}
DESCRIPTIONS = {
    "400": "Invalid input: the message names the field",
    "401": "Missing or invalid credentials",
    "403": "Not allowed for this user",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "415": "Unsupported media type of the request body",
    "429": "Too many requests (throttle or quota); see Retry-After",
}
WRITES = {"post", "put", "patch", "delete"}


def _needs_credentials(operation: dict, default_security: list) -> bool:
    security = operation.get("security", default_security)
    return bool(security) and {} not in security


def error_responses_hook(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    default_security = result.get("security", [])
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = ["400", "404", "429"]
            if _needs_credentials(operation, default_security):
                statuses += ["401", "403"]
            if method in WRITES:
                statuses.append("409")
                if "requestBody" in operation:
                    statuses.append("415")
            responses = operation["responses"]
            for status in sorted(statuses):
                responses.setdefault(status, {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():  # errors a view declared itself get the body too
                if status.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": ref}}
    return result


class CityAutoSchema(AutoSchema):
    """The project's default schema class: read-only fields that can be null say so, and times
    of day are described as what they are.

    `CharField(source="category.name", default=None)` and `StringRelatedField()` over a nullable
    foreign key answer null when the relation is empty, but drf-spectacular declares them as
    plain strings, so responses would violate their own schema."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        meta = super()._map_serializer_field(field, direction, bypass_extensions)
        if meta.get("format") == "time":
            # JSON Schema's `time` format is RFC 3339's full-time, with an offset ("13:04:21Z");
            # Django's TimeField answers and accepts local wall-clock times ("13:04:21").
            del meta["format"]
            meta["pattern"] = r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
        if field.read_only and "$ref" not in meta and "allOf" not in meta and _may_be_null(field):
            meta["nullable"] = True
        return meta


def _may_be_null(field) -> bool:
    if getattr(field, "allow_null", False) or getattr(field, "default", empty) is None:
        return True
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    source = getattr(field, "source", "") or ""
    if model is None or not source or source == "*":
        return False
    try:
        model_field = model._meta.get_field(source.split(".")[0])
    except FieldDoesNotExist:
        return False
    return bool(getattr(model_field, "null", False)) and (model_field.is_relation or "." not in source)
