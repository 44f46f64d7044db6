"""Streamed responses that always release what their body holds.

Starlette stops iterating a `StreamingResponse`'s body when the client goes away (ASGI
`http.disconnect` cancels it, or the server's `send` fails), but it does not close the
iterator: an async generator left suspended at a `yield` would keep its database session,
connection included, until the garbage collector finalises it. `ClosingStreamingResponse`
closes the body iterator whatever happened, so a generator's `finally` (the session's
release) runs as the response ends (tests/api/test_invoice_exports.py,
`test_a_client_that_disconnects_releases_the_connection`).

A client may also stay connected and stop reading: the server's `send` then waits, and the
body's generator with it, holding its connection. `deadline` bounds the whole response: past
it the response is cut off (the client sees a truncated body) and the iterator closed.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from starlette.background import BackgroundTask
from starlette.responses import ContentStream, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.core.logging import get_logger

logger = get_logger(__name__)


class ClosingStreamingResponse(StreamingResponse):
    # The parameters spelled out: FastAPI reads the default `status_code` from this signature
    # for the OpenAPI document.
    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        deadline: float | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background)
        # Seconds the whole response may take; None for no bound.
        self.deadline = deadline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with anyio.move_on_after(self.deadline) as bounded:
                await super().__call__(scope, receive, send)
            if bounded.cancelled_caught:
                logger.warning("streamed_response_cut_off", deadline_seconds=self.deadline)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
