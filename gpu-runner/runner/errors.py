"""The runner's one error type; the server renders it as {"error": {"type", "message", "param"}}."""

from __future__ import annotations

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_value_error",
    503: "unavailable_error",  # the gateway answers its own 503s with this type too
}


class ApiError(Exception):
    """A client-facing error: `status` is the HTTP status, `message` tells the caller what to fix."""

    def __init__(self, status: int, message: str, param: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after

    @property
    def type(self) -> str:
        return _TYPES.get(self.status, "server_error")

    def body(self) -> dict:
        err = {"type": self.type, "message": self.message}
        if self.param is not None:
            err["param"] = self.param
        return {"error": err}
