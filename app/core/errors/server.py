"""5xx, and problems for any status raised outside this hierarchy."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from app.core.errors.base import AppError


class ServiceUnavailableError(AppError):
    """A service the request needs (database, Redis) is unreachable: transient, retry later."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
    when = (
        "a service the request needs (database, Redis) is unreachable, or the pool had no free "
        "connection in time, or the worker already holds `MAX_CONNECTIONS_PER_WORKER` connections "
        "(or `LIMIT_CONCURRENCY` requests); retry after `Retry-After`"
    )
    sends_headers = ("Retry-After",)


class RequestTimeoutError(AppError):
    status = 504
    code = "request_timeout"
    title = "Request timed out"
    when = "the request did not complete within `REQUEST_TIMEOUT_SECONDS`"


class HttpError(AppError):
    """A status the framework raised that no class above names (e.g. 416 from a static file)."""

    status = 400
    code = "http_error"
    title = "HTTP error"
    when = "any other status raised by the framework; `detail` names it (`status` is the one sent)"

    def __init__(
        self, status: int, detail: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail or _reason_phrase(status), headers=headers)
        self.status = status


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
