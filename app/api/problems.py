"""RFC 9457 problem details: the single shape of every error response, rendered here only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.core.errors import (
    AppError,
    InvalidTokenRequestError,
    NotFoundError,
    ValidationFailedError,
    error_for_status,
    problem_type_for,
)
from app.core.logging import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Path to the offending input, e.g. ['body', 'email'].")
    message: str
    type: str = Field(description="Stable machine type of the issue, e.g. 'missing'.")


EXAMPLE_REQUEST_ID = "0190a0a0c0de7000800000000000abcd"


def example_body(error: type[AppError], detail: str | None = None) -> dict[str, Any]:
    """What an occurrence of `error` looks like, for the OpenAPI document's examples."""
    body: dict[str, Any] = {
        "type": problem_type_for(error.code),
        "title": error.title,
        "status": error.status,
        "detail": detail or error.title,
        "instance": f"urn:request:{EXAMPLE_REQUEST_ID}",
        "code": error.code,
        "request_id": EXAMPLE_REQUEST_ID,
    }
    if issubclass(error, (ValidationFailedError, InvalidTokenRequestError)):
        field = "username" if issubclass(error, InvalidTokenRequestError) else "email"
        body["errors"] = [{"loc": ["body", field], "message": "Field required", "type": "missing"}]
    if error.oauth_error is not None:
        body["error"] = error.oauth_error
        body["error_description"] = body["detail"]
    return body


class Problem(BaseModel):
    """An RFC 9457 problem document. Every error this API returns has this shape."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [example_body(NotFoundError, "No such invoice.")]}
    )

    type: str = Field(description="Stable URI identifying the problem kind.")
    title: str = Field(description="Short summary, constant for a given type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this occurrence.")
    instance: str | None = Field(default=None, description="urn:request:<request id>.")
    code: str = Field(description="Stable machine-readable code (docs/problems.md).")
    request_id: str | None = None
    errors: list[ValidationIssue] | None = Field(
        default=None, description="Present on validation problems: one entry per bad field."
    )
    error: str | None = Field(
        default=None,
        description="Present on sign-in and token errors: the RFC 6749 §5.2 error code "
        "(`invalid_grant`, `invalid_request`, `unsupported_grant_type`), for OAuth2 clients.",
    )
    error_description: str | None = Field(
        default=None, description="With `error`: the same text as `detail` (RFC 6749 §5.2)."
    )


class ProblemResponse(Response):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def is_uncacheable(status: int) -> bool:
    """Refusals that depend on the moment (a quota, an outage) must not be replayed by a cache."""
    return status == 429 or status >= 500


def problem_body(error: AppError, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type_for(error.code),
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": f"urn:request:{request_id}" if request_id else None,
        "code": error.code,
        "request_id": request_id,
    }
    if error.oauth_error is not None:
        body["error"] = error.oauth_error
        body["error_description"] = error.detail
    body.update({key: value for key, value in error.extensions.items() if key not in body})
    return body


def app_error_response(error: AppError) -> ProblemResponse:
    headers = dict(error.headers)
    if is_uncacheable(error.status):
        headers.setdefault("Cache-Control", "no-store")
    return ProblemResponse(
        problem_body(error, current_request_id()), status_code=error.status, headers=headers
    )


def http_status_problem(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> ProblemResponse:
    """A problem for a bare HTTP status (routing, HTTPException), from the catalogue."""
    return app_error_response(error_for_status(status, detail, headers))


def internal_error_response() -> ProblemResponse:
    """A safe 500: nothing about the cause leaves the process."""
    return app_error_response(
        AppError("An unexpected error occurred. Quote the request_id when reporting it.")
    )
