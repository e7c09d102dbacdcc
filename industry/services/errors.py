from cityos.api.exceptions import ApiError


class IndustryError(ApiError):
    """A refused industry operation: 400 by default, naming the field; 409 for conflicts, 403, 404."""

    default_code = "industry_error"
