"""One structured line per request, and (if SERVER_TIMING_ENABLED) its duration as Server-Timing.

Server-Timing is off by default: it tells any caller how long the server worked, and timing
differences are what an attacker measures (an account that exists, a token prefix that
matched). Turn it on where the callers are your own, e.g. behind an internal gateway.
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.routing import route_template
from app.core.logging import get_logger

logger = get_logger("invoicer.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, server_timing: bool = False) -> None:
        self.app = app
        self.server_timing = server_timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_timing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.server_timing:
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    MutableHeaders(scope=message).append("Server-Timing", f"app;dur={elapsed_ms:.1f}")
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            client = scope.get("client")
            log = logger.error if status >= 500 else logger.info
            log(
                "request",
                method=scope["method"],
                route=route_template(scope),
                status=status,
                duration_ms=duration_ms,
                client=client[0] if client else None,
                scheme=scope.get("scheme"),
                http_version=scope.get("http_version"),
            )
