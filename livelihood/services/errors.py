from cityos.api.exceptions import ApiError


class LivelihoodError(ApiError):
    """A domain error of the livelihood services: a 4xx JSON error naming the field at fault."""

    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, status: int | None = None):
        super().__init__(message, code=code, status=status, extra={"field": field} if field else None)
        self.field = field


class SlotFull(LivelihoodError):
    status_code = 409
    default_code = "slot_full"
