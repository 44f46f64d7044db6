"""The base of every problem: `AppError`, its type URIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:invoicer:problem:"


def problem_type_for(code: str) -> str:
    """A stable absolute URI per problem kind, listed in docs/problems.md."""
    return f"{PROBLEM_TYPE_PREFIX}{code}"


class AppError(Exception):
    # A plain class attribute, not a ClassVar: `HttpError` sets it per occurrence.
    status: int = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"
    when: ClassVar[str] = "an unexpected error; nothing about it leaves the server — quote the `request_id`"
    # Response headers every occurrence carries, for the OpenAPI document (app/api/openapi.py).
    sends_headers: ClassVar[tuple[str, ...]] = ()
    # The RFC 6749 §5.2 `error` this problem carries as a member, for OAuth2 clients.
    oauth_error: ClassVar[str | None] = None
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
