"""RFC 9457 problem details: the single shape of every error response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.core.errors import AppError, problem_titles, problem_type_for
from app.core.logging import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Codes and titles for errors raised by the framework itself (routing, HTTPException).
_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
    504: "request_timeout",
}


_TITLES = problem_titles()


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Path to the offending input, e.g. ['body', 'email'].")
    message: str
    type: str = Field(description="Stable machine type of the issue, e.g. 'missing'.")


class Problem(BaseModel):
    """An RFC 9457 problem document. Every error this API returns has this shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": "urn:invoicer:problem:not_found",
                "title": "Not found",
                "status": 404,
                "detail": "No such invoice.",
                "instance": "urn:request:0b7f3c1e6f2a4c8e9d11",
                "code": "not_found",
                "request_id": "0b7f3c1e6f2a4c8e9d11",
            }
        }
    )

    type: str = Field(description="Stable URI identifying the problem kind.")
    title: str = Field(description="Short summary, constant for a given type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this occurrence.")
    instance: str | None = Field(default=None, description="urn:request:<request id>.")
    code: str = Field(description="Stable machine-readable code.")
    request_id: str | None = None
    errors: list[ValidationIssue] | None = Field(
        default=None, description="Present on validation problems: one entry per bad field."
    )


class ProblemResponse(Response):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def code_for_status(status: int) -> str:
    return _STATUS_CODES.get(status, "http_error" if status < 500 else "internal_error")


def title_for_status(status: int) -> str:
    """The title our own errors use for this status's code, else the HTTP reason phrase."""
    title = _TITLES.get(code_for_status(status))
    if title is not None:
        return title
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    request_id = current_request_id()
    body: dict[str, Any] = {
        "type": problem_type_for(code),
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": f"urn:request:{request_id}" if request_id else None,
        "code": code,
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = list(errors)
    if extensions:
        body.update({key: value for key, value in extensions.items() if key not in body})
    response_headers = dict(headers or {})
    if status == 429 or status >= 500:
        response_headers.setdefault("Cache-Control", "no-store")
    return ProblemResponse(body, status_code=status, headers=response_headers)


def app_error_response(error: AppError) -> ProblemResponse:
    return problem_response(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        extensions=error.extensions,
        headers=error.headers,
    )


def http_status_problem(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> ProblemResponse:
    """A problem for a bare HTTP status (routing, middleware, HTTPException)."""
    return problem_response(
        status=status,
        code=code_for_status(status),
        title=title_for_status(status),
        detail=detail,
        headers=headers,
    )


def internal_error_response() -> ProblemResponse:
    """A safe 500: nothing about the cause leaves the process."""
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="An unexpected error occurred. Quote the request_id when reporting it.",
    )


# Documented on every operation so clients see the error shape in OpenAPI.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "Client error (problem details)",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
    "5XX": {
        "description": "Server error (problem details)",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}
