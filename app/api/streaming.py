"""Streamed responses that always release what their body holds.

Starlette stops iterating a `StreamingResponse`'s body when the client goes away (ASGI
`http.disconnect` cancels it, or the server's `send` fails), but it does not close the
iterator: an async generator left suspended at a `yield` would keep its database session,
connection included, until the garbage collector finalises it. `ClosingStreamingResponse`
closes the body iterator whatever happened, so a generator's `finally` (the session's
release) runs as the response ends (tests/api/test_invoice_exports.py,
`test_a_client_that_disconnects_releases_the_connection`).
"""

from __future__ import annotations

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ClosingStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
