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
    # Some refusals are themselves state changes that must persist (a reused refresh token
    # revokes its family): the request's unit of work commits before the error is rendered.
    commit_transaction: ClassVar[bool] = False

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


class RateLimitedError(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailableError(AppError):
    """A service the request needs (database, Redis) is unreachable: transient, retry later."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


class RequestHeaderTimeoutError(AppError):
    """The HTTP server's answer to headers that do not arrive in time (app/server.py)."""

    status = 408
    code = "request_header_timeout"
    title = "Request header timeout"


class RequestHeaderFieldsTooLargeError(AppError):
    """The HTTP server's answer to a request line and headers over budget (app/server.py)."""

    status = 431
    code = "request_header_too_large"
    title = "Request header fields too large"


class InvalidInputError(AppError):
    """Input that passed the schema but not a configured rule; shaped like validation errors."""

    status = 422
    code = "validation_error"
    title = "Request validation failed"

    def __init__(self, loc: list[str | int], message: str, issue_type: str) -> None:
        super().__init__(
            f"{loc[-1]} {message}",
            extensions={"errors": [{"loc": loc, "message": message, "type": issue_type}]},
        )


# --- authentication ------------------------------------------------------------------------


class InvalidCredentialsError(AuthenticationError):
    """Wrong password, unknown account and disabled account: one answer for all three."""

    code = "invalid_credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


class InvalidAccessTokenError(AuthenticationError):
    code = "invalid_token"
    title = "Invalid access token"

    def __init__(self, detail: str = "The access token is invalid, expired or revoked.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class NotAuthenticatedError(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("Send a bearer token or sign in.", headers={"WWW-Authenticate": "Bearer"})


class InvalidRefreshTokenError(AuthenticationError):
    code = "invalid_grant"
    title = "Invalid refresh token"

    def __init__(self, detail: str = "The refresh token is invalid, expired or revoked.") -> None:
        super().__init__(detail)


class RefreshTokenReusedError(InvalidRefreshTokenError):
    commit_transaction = True

    def __init__(self) -> None:
        super().__init__("The refresh token was already used; the session has been ended.")


class EmailNotVerifiedError(PermissionDeniedError):
    code = "email_not_verified"
    title = "Email address not verified"

    def __init__(self) -> None:
        super().__init__("Verify your email address first: follow the link we sent you.")


class CsrfError(PermissionDeniedError):
    code = "csrf_failed"
    title = "CSRF check failed"

    def __init__(self) -> None:
        super().__init__("Send the session's CSRF token in the X-CSRF-Token header.")


class InvalidOneTimeTokenError(BadRequestError):
    code = "invalid_one_time_token"
    title = "Invalid or expired token"

    def __init__(self) -> None:
        super().__init__("The link is invalid, expired or already used.")


def problem_titles() -> dict[str, str]:
    """The title of every code defined above, for problems raised outside this hierarchy.

    A routing 404 and a `NotFoundError` must read the same: RFC 9457 keeps a title constant
    per problem type (tests/unit/test_error_catalogue.py checks one title per code).
    """
    titles: dict[str, str] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        titles.setdefault(cls.code, cls.title)
        pending.extend(cls.__subclasses__())
    return titles
