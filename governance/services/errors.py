from cityos.api.exceptions import ApiError


class CaseError(ApiError):
    """A domain error of the governance services; rendered by the API as {"error": {...}}."""

    status_code = 400
    default_code = "case_error"


class TransitionNotAllowed(CaseError):
    status_code = 409
    default_code = "invalid_transition"


class CasePermissionDenied(CaseError):
    status_code = 403
    default_code = "permission_denied"
