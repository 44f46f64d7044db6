"""`StreamedBodyDep`: a route that reads its request body itself, as a stream (uploads).

The route's endpoint takes it before `Idempotent`, and reads the body through it
(`body.chunks()`), never through FastAPI's body parsing, so nothing holds the whole body in
memory. When an `Idempotency-Key` is sent, the key's fingerprint needs the body's bytes before
the endpoint runs: the idempotency dependency then calls `spool`, which reads the body once
into a temporary file (in memory up to `SPOOL_IN_MEMORY_BYTES`, on disk beyond), hashing it as
it goes; the endpoint then streams the spooled copy. Without a key, nothing is spooled.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Annotated

import anyio
from fastapi import Depends, Request

SPOOL_IN_MEMORY_BYTES = 256 * 1024
_CHUNK = 64 * 1024
_SCOPE_KEY = "invoicer.streamed_body"


class StreamedBody:
    def __init__(self, request: Request) -> None:
        self.request = request
        self._spool: IO[bytes] | None = None

    async def spool(self) -> bytes:
        """Read the body into a temporary file; its SHA-256 digest."""
        digest = hashlib.sha256()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 (closed by chunks())
        try:
            async for chunk in self.request.stream():
                digest.update(chunk)
                await anyio.to_thread.run_sync(spool.write, chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        self._spool = spool
        return digest.digest()

    async def chunks(self) -> AsyncIterator[bytes]:
        spool = self._spool
        if spool is None:
            async for chunk in self.request.stream():
                if chunk:
                    yield chunk
            return
        try:
            while chunk := await anyio.to_thread.run_sync(spool.read, _CHUNK):
                yield chunk
        finally:
            spool.close()


def streamed_body_of(request: Request) -> StreamedBody | None:
    """The route's streamed body, if it has one (for the idempotency dependency)."""
    found = request.scope.get(_SCOPE_KEY)
    return found if isinstance(found, StreamedBody) else None


async def get_streamed_body(request: Request) -> StreamedBody:
    body = StreamedBody(request)
    request.scope[_SCOPE_KEY] = body
    return body


StreamedBodyDep = Annotated[StreamedBody, Depends(get_streamed_body)]
