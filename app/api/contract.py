"""What each part of the API declares about the responses it can give, for the OpenAPI document.

A component that can refuse a request says so once, where it is defined, and every operation
that uses it inherits the declaration (app/api/openapi.py walks each route's dependencies):

- a dependency: `declare(get_platform_admin, Declares(problems=(PermissionDeniedError,)))`, or
  a function of the operation when the answer depends on its method (CSRF only guards writes);
  a class-based dependency (`RateLimit("login")`) is declared once for its class;
- a pure-ASGI middleware: a `refusals(path, options)` class method (app/api/middleware/);
- a route, for what its service raises: `responses=problems(NotFoundError, ConflictError)`, and
  for the headers it sets on success: `responses=sets_headers(201, "Location", "ETag")`.

The statuses, titles, codes and headers of each problem come from the error catalogue
(app/core/errors/), so the document cannot drift from what the handlers render.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.config import Settings
from app.core.errors import AppError

# Response headers the API sets, each described once. Values are header values (strings).
_TOKEN = {"type": "string", "pattern": "^[0-9]+$"}
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: yours if you sent an acceptable one, else ours. Quote it "
        "when reporting a problem; error bodies repeat it as `request_id`.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'Quota left (IETF RateLimit fields): `"<policy>";r=<remaining>;t=<seconds to reset>`.',
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The quota (IETF RateLimit fields): `"<policy>";q=<requests>;w=<window seconds>`.',
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": _TOKEN},
    "Cache-Control": {
        "description": "`no-store`: the response holds credentials or personal data, or depends on "
        "the moment; no cache may keep it. Reports say `private, max-age=<seconds>` instead: "
        "only the caller's own cache may keep them, that long.",
        "schema": {"type": "string"},
    },
    "Pragma": {
        "description": "`no-cache`, for HTTP/1.0 caches (RFC 6749 §5.1).",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme to use (`Bearer`), and why the credentials failed.",
        "schema": {"type": "string"},
    },
    "Set-Cookie": {
        "description": "The browser-session cookies (the session, HttpOnly; its CSRF token, readable).",
        "schema": {"type": "string"},
    },
    "ETag": {"description": "The representation's version, for `If-Match`.", "schema": {"type": "string"}},
    "Location": {"description": "The URL of the resource created.", "schema": {"type": "string"}},
    "Link": {
        "description": 'Related pages (RFC 8288), e.g. `<...>; rel="next"`.',
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": 'How to present the file, and its name: `attachment; filename="INV-2026-000001.pdf"`, '
        '`attachment; filename="invoices-YYYY-MM-DD.csv"` (or `inline`, when asked for); a name that is '
        "not plain ASCII also as `filename*=UTF-8''...` (RFC 6266).",
        "schema": {"type": "string"},
    },
    "Content-Range": {
        "description": "The bytes sent and the file's size: `bytes <first>-<last>/<size>`.",
        "schema": {"type": "string"},
    },
    "Accept-Ranges": {"description": "`bytes`: a single `Range` is honoured.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true`: this is the stored response to the first request with this "
        "`Idempotency-Key`, replayed byte for byte; nothing was done again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


@dataclass(frozen=True)
class Operation:
    """What a declaration may depend on."""

    method: str
    path: str
    settings: Settings


@dataclass(frozen=True)
class Declares:
    problems: tuple[type[AppError], ...] = ()
    # Set on every successful response of the operation.
    success_headers: tuple[str, ...] = ()
    # Set on some successful responses of the operation.
    optional_success_headers: tuple[str, ...] = ()
    # Request headers the operation requires although the dependency reads them as optional,
    # so that a missing one is its own problem rather than a validation error.
    required_headers: tuple[str, ...] = ()
    # Alternative security requirements (any one suffices), and the schemes they name.
    security: tuple[Mapping[str, list[str]], ...] = ()
    security_schemes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # OpenAPI extensions (`x-...`) of the operation; lists from several components are joined.
    extensions: Mapping[str, list[str]] = field(default_factory=dict)


Declaration = Callable[[Operation], Declares]
_DECLARED: dict[Any, Declaration] = {}


def declare(call: Any, declares: Declares | Declaration) -> None:
    """Record what `call` (a dependency function, or a dependency class) adds to an operation."""
    _DECLARED[call] = declares if callable(declares) else (lambda _operation: declares)


def declared_by(call: Any) -> Declaration | None:
    try:
        declared = _DECLARED.get(call)
    except TypeError:  # an unhashable callable object
        declared = None
    return declared if declared is not None else _DECLARED.get(type(call))


class ProblemDeclaration(dict[str, Any]):
    """A `responses=` entry made by `problems()`: remembers the error classes it stands for."""

    def __init__(self, errors: tuple[type[AppError], ...]) -> None:
        super().__init__(description=", ".join(f"`{error.code}`" for error in errors))
        self.errors = errors


def problems(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the service errors a route can raise; rendered by app/api/openapi.py."""
    by_status: dict[int, tuple[type[AppError], ...]] = {}
    for error in errors:
        by_status[error.status] = (*by_status.get(error.status, ()), error)
    return {status: ProblemDeclaration(grouped) for status, grouped in by_status.items()}


def sets_headers(status: int, *names: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for headers a route sets on its success response (each always present)."""
    unknown = [name for name in names if name not in RESPONSE_HEADERS]
    if unknown:
        raise ValueError(f"describe {unknown} in RESPONSE_HEADERS first")
    return {status: {"headers": {name: response_header(name, required=True) for name in names}}}


def response_header(name: str, *, required: bool) -> dict[str, Any]:
    return {**RESPONSE_HEADERS[name], "required": required}
