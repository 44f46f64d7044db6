"""Refuse request bodies above a size limit with 413, whether declared or streamed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import app_error_response
from app.core.errors import AppError, BadRequestError, PayloadTooLargeError


@dataclass(frozen=True, slots=True)
class BodyAllowance:
    """A route whose bodies may be larger than the global limit (an upload: its own size limit,
    enforced by the route as the body streams, plus the multipart framing around it)."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


class BodySizeLimitMiddleware:
    @classmethod
    def refusals(cls, _path: str, _options: Mapping[str, Any]) -> tuple[type[AppError], ...]:
        """For the OpenAPI document: any request may carry a body, so any may be refused."""
        return (BadRequestError, PayloadTooLargeError)

    def __init__(self, app: ASGIApp, max_body_bytes: int, allowances: Sequence[BodyAllowance] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowances = tuple(allowances)

    def limit_for(self, scope: Scope) -> int:
        """The route's own allowance (uploads), else the global limit."""
        for allowance in self.allowances:
            if scope["method"] == allowance.method and allowance.path.fullmatch(scope["path"]):
                return allowance.max_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                invalid = BadRequestError("Invalid Content-Length header.")
                await app_error_response(invalid)(scope, receive, send)
                return
            if int(declared) > limit:
                await self._too_large(limit, scope, receive, send)
                return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes FastAPI's body parsing untouched and is rendered
                    # by our handler (413 is PayloadTooLargeError in the catalogue), so chunked
                    # uploads get the same 413 as declared ones.
                    raise HTTPException(PayloadTooLargeError.status, self._detail(limit))
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self, limit: int) -> str:
        return f"The request body exceeds {limit} bytes."

    async def _too_large(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLargeError(self._detail(limit), headers={"Connection": "close"})
        await app_error_response(error)(scope, receive, send)
