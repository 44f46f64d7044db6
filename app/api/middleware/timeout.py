"""Bound the time to the first response byte; past it, answer 504 and cancel the work."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import app_error_response
from app.core.errors import AppError, RequestTimeoutError
from app.core.logging import get_logger

logger = get_logger(__name__)


class RequestTimeoutMiddleware:
    @classmethod
    def refusals(cls, _path: str, _options: Mapping[str, Any]) -> tuple[type[AppError], ...]:
        """For the OpenAPI document."""
        return (RequestTimeoutError,)

    def __init__(self, app: ASGIApp, timeout_seconds: float) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        deadline = asyncio.timeout(self.timeout_seconds)

        async def send_and_release(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # A response that has begun (e.g. a long stream) is no longer bounded here.
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_and_release)
        except TimeoutError:
            if not deadline.expired() or started:
                raise
            logger.warning("request_timeout", timeout_seconds=self.timeout_seconds)
            response = app_error_response(
                RequestTimeoutError(f"The request did not complete within {self.timeout_seconds:g} seconds.")
            )
            await response(scope, receive, send)
