"""Exception handlers: every error leaves as application/problem+json, rendered here only."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.api.dependencies.rate_limit import RATE_LIMIT_HEADERS_STATE
from app.api.problems import (
    app_error_response,
    http_status_problem,
    internal_error_response,
    problem_response,
)
from app.core.errors import AppError
from app.core.logging import get_logger

logger = get_logger(__name__)


def _validation_issues(exc: RequestValidationError) -> list[dict[str, Any]]:
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
    issues = _validation_issues(exc)
    count = len(issues)
    return _with_rate_limit_fields(
        request,
        problem_response(
            status=422,
            code="validation_error",
            title="Request validation failed",
            detail=f"{count} invalid field{'s' if count != 1 else ''}; see errors.",
            errors=issues,
        ),
    )


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return _with_rate_limit_fields(request, http_status_problem(exc.status_code, detail, exc.headers))


async def handle_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _with_rate_limit_fields(request, app_error_response(exc))


async def handle_unexpected_error(_request: Request, exc: Exception) -> Response:
    """Last resort (Starlette's ServerErrorMiddleware); normally ErrorGuardMiddleware answers."""
    logger.error("unhandled_exception", exc_info=exc)
    return internal_error_response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
