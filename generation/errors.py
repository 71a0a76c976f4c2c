"""The API's error type: answered as `{"code": ..., "message": ...}`."""


class ApiError(Exception):
    """An error with an HTTP status and a stable, documented code."""

    retry_after: int | None = None  # seconds, sent as Retry-After (429, 503)

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
