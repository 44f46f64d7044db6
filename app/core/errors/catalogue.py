"""The catalogue: every problem class, and the one for a bare HTTP status."""

from __future__ import annotations

from collections.abc import Mapping

from app.core.errors.access import AuthenticationError, PermissionDeniedError
from app.core.errors.bad_request import BadRequestError
from app.core.errors.base import AppError
from app.core.errors.client import (
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PreconditionFailedError,
    PreconditionRequiredError,
    RateLimitedError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from app.core.errors.server import HttpError, RequestTimeoutError, ServiceUnavailableError


def catalogue() -> list[type[AppError]]:
    """Every class that defines a code, by status then code: the rows of docs/problems.md."""
    found: list[type[AppError]] = []
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if "code" in vars(cls):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: (cls is HttpError, cls.status, cls.code))


# The problem for a bare HTTP status (routing, HTTPException, the framework's body parsing).
_FOR_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PreconditionFailedError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        UnprocessableError,
        PreconditionRequiredError,
        RateLimitedError,
        AppError,
        ServiceUnavailableError,
        RequestTimeoutError,
    )
}


def error_for_status(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> AppError:
    """The catalogued problem for an HTTP status raised outside this hierarchy."""
    cls = _FOR_STATUS.get(status)
    if cls is None:
        return HttpError(status, detail, headers=headers)
    return cls(detail, headers=headers)
