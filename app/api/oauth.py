"""The OAuth2 token endpoint's error contract (RFC 6749 §5.2), for off-the-shelf OAuth2 clients.

A failed grant is 400 with an `error` member (`invalid_grant` and the like come from the error
classes themselves: `AppError.oauth_error`). This route class adds what only the token endpoint
does: malformed input is 400 `invalid_request` (not the 422 of every other route), another
grant type is 400 `unsupported_grant_type`, and every other refusal below 500 carries an
`error` too, so that no client mistakes a problem document for a token (clients such as
authlib read any JSON object without `error` as a token; from 500 on they raise by status).
The problem document keeps its `type`, `code` and `request_id`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.api.error_handlers import validation_issues
from app.core.errors import AppError, InvalidTokenRequestError, UnsupportedGrantTypeError

GRANT_TYPE_LOCATION = ["body", "grant_type"]
# Refusals that say "not now" rather than "not this": a quota or lockout, an outage.
RETRY_LATER_ERROR = "temporarily_unavailable"


def token_request_error(issues: list[dict[str, Any]]) -> AppError:
    """A grant type we do not support makes the other fields moot (their rules depend on it)."""
    if any(issue["loc"] == GRANT_TYPE_LOCATION for issue in issues):
        return UnsupportedGrantTypeError()
    return InvalidTokenRequestError(issues)


class OAuthTokenRoute(APIRoute):
    # What a malformed request becomes here, for the OpenAPI document (app/api/openapi.py).
    validation_problems: ClassVar[tuple[type[AppError], ...]] = (
        InvalidTokenRequestError,
        UnsupportedGrantTypeError,
    )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def token_endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise token_request_error(validation_issues(exc)) from None
            except HTTPException as exc:
                if exc.status_code != InvalidTokenRequestError.status:
                    raise
                # The form did not parse at all.
                issue = {"loc": ["body"], "message": "The form body could not be parsed.", "type": "body"}
                raise InvalidTokenRequestError([issue]) from None
            except AppError as exc:
                if exc.oauth_error is None and exc.status < 500:
                    error = RETRY_LATER_ERROR if exc.status == 429 else InvalidTokenRequestError.oauth_error
                    exc.extensions.setdefault("error", error)
                    exc.extensions.setdefault("error_description", exc.detail)
                raise

        return token_endpoint
