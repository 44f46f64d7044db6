"""The one error hierarchy. Services raise these; the API layer renders them (RFC 9457).

Each subclass fixes an HTTP status, a stable machine `code` and a constant `title`; the
`detail` is per occurrence and must help the client without revealing internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:invoicer:problem:"


def problem_type_for(code: str) -> str:
    """A stable absolute URI per problem kind, listed in docs/problems.md."""
    return f"{PROBLEM_TYPE_PREFIX}{code}"


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        super().__init__(self.detail)


class BadRequestError(AppError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class AuthenticationError(AppError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class PermissionDeniedError(AppError):
    status = 403
    code = "permission_denied"
    title = "Permission denied"


class NotFoundError(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class ConflictError(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailedError(AppError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PayloadTooLargeError(AppError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnprocessableError(AppError):
    """Well-formed input that the business rules reject."""

    status = 422
    code = "unprocessable"
    title = "Unprocessable request"


class PreconditionRequiredError(AppError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"


class RateLimitedError(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailableError(AppError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
