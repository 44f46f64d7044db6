"""The storage backends behind one interface (app/clients/storage.py): a directory, and S3 through
obstore against moto's S3 emulator on loopback; and the unit of work's clean-up of objects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.clients.storage import LocalStorage, ObjectMissingError, S3Storage, Storage
from app.core.config import Settings
from app.db.session import Database, on_commit, on_rollback
from tests.conftest import settings_for_test
from tests.support.s3 import S3Server, run_s3_server

pytestmark = pytest.mark.anyio

CONTENT = bytes(range(256)) * 40_000  # ~10 MB: several parts on S3


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    yield from run_s3_server()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        return S3Storage.from_settings(Settings(**server.settings(server.new_bucket())))
    return LocalStorage(tmp_path)


def new_key() -> str:
    return f"{uuid.uuid4()}/{uuid.uuid4()}"


async def chunks(content: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


async def read(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.get(key, start=start, end=end)])


async def test_put_get_range_head_delete(storage: Storage) -> None:
    key = new_key()
    assert await storage.put(key, chunks(CONTENT)) == len(CONTENT)
    assert (await storage.head(key)) is not None
    assert (await storage.head(key)).size == len(CONTENT)  # type: ignore[union-attr]
    assert await read(storage, key) == CONTENT
    assert await read(storage, key, 0, 10) == CONTENT[:10]
    assert await read(storage, key, len(CONTENT) - 5) == CONTENT[-5:]
    assert await read(storage, key, 1000, 70_000) == CONTENT[1000:70_000]
    assert await storage.keys() == [key]
    await storage.delete(key)
    await storage.delete(key)  # a missing object is not an error
    assert await storage.head(key) is None
    with pytest.raises(ObjectMissingError):
        await read(storage, key)
    assert await storage.keys() == []


async def test_a_failing_source_leaves_nothing_under_the_key(storage: Storage) -> None:
    class RefusedError(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        async for chunk in chunks(CONTENT[:7_000_000]):
            yield chunk
        raise RefusedError

    with pytest.raises(RefusedError):
        await storage.put(new_key(), failing())
    assert await storage.keys() == []


async def test_keys_that_could_escape_are_refused(storage: Storage) -> None:
    for key in ("../../etc/passwd", "a/b", f"{uuid.uuid4()}/../x", "/abs"):
        with pytest.raises(ValueError, match="not a storage key"):
            await storage.delete(key)


async def test_a_unit_of_work_removes_the_object_when_it_rolls_back_or_fails_to_commit(
    storage: Storage, sqlite_url: str
) -> None:
    database = Database(settings_for_test(database_url=sqlite_url))
    try:
        kept, rolled_back = new_key(), new_key()
        async with database.unit_of_work() as session:
            await storage.put(kept, chunks(b"%PDF-kept"))
            on_rollback(session, lambda: storage.delete(kept))

        async def failing_request() -> None:
            async with database.unit_of_work() as session:
                await storage.put(rolled_back, chunks(b"%PDF-gone"))
                on_rollback(session, lambda: storage.delete(rolled_back))
                raise RuntimeError("the request failed after the object was written")

        with pytest.raises(RuntimeError):
            await failing_request()
        assert await storage.keys() == [kept]
        # After the commit: deletions that wait for it.
        async with database.unit_of_work() as session:
            on_commit(session, lambda: storage.delete(kept))
            assert await storage.keys() == [kept]
        assert await storage.keys() == []
    finally:
        await database.dispose()
