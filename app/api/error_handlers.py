"""Exception handlers: every error leaves as application/problem+json, rendered here only."""

from __future__ import annotations

from typing import Any

import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.api.dependencies.rate_limit import RATE_LIMIT_HEADERS_STATE
from app.api.problems import app_error_response, http_status_problem, internal_error_response
from app.core.errors import AppError, ServiceUnavailableError, ValidationFailedError
from app.core.logging import get_logger

logger = get_logger(__name__)


def validation_issues(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Inputs are never echoed back: they may hold passwords or tokens.
    return [
        {
            "loc": [part for part in error.get("loc", ()) if isinstance(part, (str, int))],
            "message": str(error.get("msg", "Invalid value")),
            "type": str(error.get("type", "value_error")),
        }
        for error in exc.errors()
    ]


def _with_rate_limit_fields(request: Request, response: Response) -> Response:
    """A limited route's refusals carry its RateLimit fields too (set by the RateLimit dependency)."""
    fields = getattr(request.state, RATE_LIMIT_HEADERS_STATE, None)
    if fields:
        for name, value in fields.items():
            response.headers.setdefault(name, value)
    return response


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _with_rate_limit_fields(request, app_error_response(ValidationFailedError(validation_issues(exc))))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return _with_rate_limit_fields(request, http_status_problem(exc.status_code, detail, exc.headers))


async def handle_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _with_rate_limit_fields(request, app_error_response(exc))


# A dependency that cannot be reached: refused or dropped connections, connect timeouts, an
# exhausted database pool. The request may succeed moments later, so it is a 503 with
# Retry-After rather than a 500 (and the pool has already discarded a dropped connection).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    ConnectionError,  # builtin: what asyncpg raises when it cannot connect
    TimeoutError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection became free in DB_POOL_TIMEOUT_SECONDS
    sqlalchemy.exc.DBAPIError,  # only when the driver reports a lost connection, see below
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
RETRY_AFTER_SECONDS = 2


async def handle_unavailable_dependency(request: Request, exc: Exception) -> Response:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and not exc.connection_invalidated:
        return await handle_unexpected_error(request, exc)  # a failed statement, not an outage
    logger.error("dependency_unavailable", error=type(exc).__name__, exc_info=exc)
    error = ServiceUnavailableError(
        "A service this request needs is unavailable. Retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    return _with_rate_limit_fields(request, app_error_response(error))


async def handle_unexpected_error(_request: Request, exc: Exception) -> Response:
    """Last resort (Starlette's ServerErrorMiddleware); normally ErrorGuardMiddleware answers.

    Database errors (a failed statement, not an outage) also end here. Their text can quote
    the row's values, so the log pipeline renders them by SQLSTATE, constraint, table and
    statement instead (app/core/logging/exceptions.py), wherever they are logged from.
    """
    logger.error("unhandled_exception", exc_info=exc)
    return internal_error_response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(AppError, handle_app_error)
    for error_type in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_type, handle_unavailable_dependency)
    app.add_exception_handler(Exception, handle_unexpected_error)
