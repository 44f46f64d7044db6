"""204 and 304 responses carry no content, so no Content-Type or Content-Length either.

FastAPI labels the empty 204 of an endpoint that returns `None` `application/json`, and a
client reading the label would try to parse nothing. RFC 9110 §8.6 also forbids Content-Length
on a 204. Done here, once, so no route can forget it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_CONTENT_STATUSES = frozenset({204, 304})


class NoContentMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_without_content_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in NO_CONTENT_STATUSES:
                headers = MutableHeaders(scope=message)
                del headers["content-type"]
                del headers["content-length"]
            await send(message)

        await self.app(scope, receive, send_without_content_headers)
