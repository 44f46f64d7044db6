"""Object storage for attachment files: one small interface, two backends.

- `LocalStorage`: a directory (`STORAGE_LOCAL_DIR`), for the embedded mode. An object is
  written to a temporary name in the directory and renamed into place once complete, so a
  reader never sees half a file and a failed write leaves nothing under the key.
- `S3Storage`: an S3-compatible store through obstore (`STORAGE_BACKEND=s3`), for the full mode.
  A put streams the chunks as a multipart upload; one that fails is aborted by obstore, and
  `put` deletes the key as well in case the store kept anything under it.

Keys are chosen by the service (`<org id>/<attachment id>`, never a client's file name) and
checked here against a narrow pattern, so no key can climb out of the directory or prefix.
Reads are streams of chunks, optionally of one byte range: nothing holds a whole file in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio
import obstore
from obstore.exceptions import NotFoundError as ObjectNotFound
from obstore.store import S3Store

from app.core.config import Settings

CHUNK_BYTES = 64 * 1024
# S3 multipart part size: the most an upload buffers in memory per part in flight.
PART_BYTES = 5 * 1024 * 1024
# <org uuid>/<object uuid>: hex and hyphens in two segments, nothing else.
_KEY = re.compile(r"^[0-9a-f-]{36}/[0-9a-f-]{36}$")


class StorageError(RuntimeError):
    """The store failed (unreachable, refused); the caller's request fails with it."""


class ObjectMissingError(StorageError):
    """No object under the key."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int


class Storage(Protocol):
    """What the attachments service needs from a store."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Write the chunks under `key` (all or nothing); the number of bytes written."""

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes `start` up to `end` (exclusive; `None`: the end), as chunks."""

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    async def keys(self) -> list[str]:
        """Every key (for tests and operators' checks, not for request paths)."""


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory).resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        target = self._path(key)
        await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
        partial = target.parent / f".partial-{uuid.uuid4().hex}"
        written = 0
        try:
            async with await anyio.open_file(partial, "xb") as file:
                async for chunk in chunks:
                    await file.write(chunk)
                    written += len(chunk)
            await anyio.to_thread.run_sync(os.replace, partial, target)
        finally:
            # Whatever happened (an error, a cancelled request), no partial file stays behind.
            partial.unlink(missing_ok=True)
        return written

    async def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            file = await anyio.open_file(path, "rb")
        except FileNotFoundError as error:
            raise ObjectMissingError(key) from error
        async with file:
            await file.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                size = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
                chunk = await file.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            stat = await anyio.Path(self._path(key)).stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key=key, size=stat.st_size)

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)

    async def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            f"{path.parent.name}/{path.name}"
            for path in self.root.glob("*/*")
            if _KEY.fullmatch(f"{path.parent.name}/{path.name}") or path.name.startswith(".partial-")
        )


class S3Storage:
    def __init__(self, store: S3Store) -> None:
        self.store = store

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if not settings.s3_bucket:
            raise ValueError("S3_BUCKET is not set")
        config: dict[str, Any] = {"region": settings.s3_region}
        if settings.s3_endpoint_url:
            config["endpoint"] = settings.s3_endpoint_url
        if settings.s3_access_key_id:
            config["access_key_id"] = settings.s3_access_key_id
        if settings.s3_secret_access_key:
            config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        client: dict[str, Any] = {"timeout": "30s", "connect_timeout": "5s"}
        if settings.s3_endpoint_url and settings.s3_endpoint_url.startswith("http://"):
            client["allow_http"] = True
        store = S3Store(
            settings.s3_bucket,
            prefix=settings.s3_prefix.strip("/") or None,
            config=config,  # type: ignore[arg-type]
            client_options=client,  # type: ignore[arg-type]
        )
        return cls(store)

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """The upload runs as its own task, fed through a small queue: whatever happens to the
        request (a refusal, a disconnect, a cancelled task), the upload is told to fail, waited
        for, and the key deleted, so it can never complete after the request gave up."""
        check_key(key)
        queue: asyncio.Queue[bytes | _Abort | None] = asyncio.Queue(maxsize=2)
        upload = asyncio.ensure_future(
            obstore.put_async(self.store, key, _drain(queue), chunk_size=PART_BYTES, max_concurrency=2)
        )
        size = 0
        source = aiter(chunks)
        try:
            while True:
                try:
                    chunk = await anext(source)
                except StopAsyncIteration:
                    break
                size += len(chunk)
                await _offer(queue, chunk, upload)
            await _offer(queue, None, upload)
            try:
                await asyncio.shield(upload)
            except Exception as error:
                raise StorageError(f"put failed: {type(error).__name__}") from error
        except BaseException:
            await _abandon(self.store, key, queue, upload)
            raise
        return size

    async def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        check_key(key)
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        try:
            result = await obstore.get_async(self.store, key, options=options)  # type: ignore[arg-type]
        except (ObjectNotFound, FileNotFoundError) as error:
            raise ObjectMissingError(key) from error
        async for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
            yield bytes(chunk)

    async def head(self, key: str) -> ObjectInfo | None:
        check_key(key)
        try:
            meta = await obstore.head_async(self.store, key)
        except (ObjectNotFound, FileNotFoundError):
            return None
        return ObjectInfo(key=key, size=int(meta["size"]))

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            await obstore.delete_async(self.store, key)
        except (ObjectNotFound, FileNotFoundError):
            return

    async def keys(self) -> list[str]:
        found: list[str] = []
        async for batch in obstore.list(self.store):
            found.extend(str(meta["path"]) for meta in batch)
        return sorted(found)


class _Abort:
    """Put in the queue to make obstore's read of the body fail, which aborts the upload."""


async def _drain(queue: asyncio.Queue[bytes | _Abort | None]) -> AsyncIterator[bytes]:
    while True:
        item = await queue.get()
        if item is None:
            return
        if isinstance(item, _Abort):
            raise StorageError("upload abandoned")
        yield item


async def _offer(
    queue: asyncio.Queue[bytes | _Abort | None], item: bytes | None, upload: asyncio.Future[Any]
) -> None:
    """Queue the item, unless the upload fails first (then its error, as a StorageError)."""
    putter = asyncio.ensure_future(queue.put(item))
    await asyncio.wait({putter, upload}, return_when=asyncio.FIRST_COMPLETED)
    if putter.done():
        return
    putter.cancel()
    error = upload.exception() if not upload.cancelled() else None
    raise StorageError(f"put failed: {type(error).__name__}") from error


async def _abandon(
    store: S3Store, key: str, queue: asyncio.Queue[bytes | _Abort | None], upload: asyncio.Future[Any]
) -> None:
    with anyio.CancelScope(shield=True):
        if not upload.done():
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_Abort())
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(upload), timeout=30)
        if upload.done() and not upload.cancelled():
            upload.exception()  # retrieved: the request's own error is what propagates
        await _quietly_delete(store, key)


async def _quietly_delete(store: S3Store, key: str) -> None:
    with anyio.CancelScope(shield=True):
        with contextlib.suppress(Exception):  # best effort: the put already failed
            await obstore.delete_async(store, key)


def create_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return S3Storage.from_settings(settings)
    return LocalStorage(settings.storage_local_dir)
