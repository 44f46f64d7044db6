"""Turn any unhandled exception into a safe 500 *inside* our middleware stack.

Starlette hands `Exception` handlers to its outermost ServerErrorMiddleware, whose response
would skip the request id, access log, CORS and security headers. Catching here keeps every
500 a normal, fully decorated problem response; the trace goes to the log only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import internal_error_response
from app.api.routing import route_template
from app.core.errors import AppError
from app.core.logging import get_logger

logger = get_logger(__name__)


class ErrorGuardMiddleware:
    @classmethod
    def refusals(cls, _path: str, _options: Mapping[str, Any]) -> tuple[type[AppError], ...]:
        """For the OpenAPI document: any operation may fail unexpectedly."""
        return (AppError,)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # The route template, as in the access log: a raw path can carry ids or tokens.
            logger.exception("unhandled_exception", method=scope["method"], route=route_template(scope))
            if started:
                raise
            await internal_error_response()(scope, receive, send)
