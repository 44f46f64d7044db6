"""The Redis pool: a burst beyond its size waits for a connection instead of failing at once."""

from __future__ import annotations

import anyio
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.clients.redis import create_redis
from tests.conftest import REDIS_URL, settings_for_test
from tests.support.redis_keys import unique_key_prefix

pytestmark = pytest.mark.anyio


async def test_a_burst_beyond_the_pool_waits_for_a_connection() -> None:
    settings = settings_for_test(redis_url=REDIS_URL, redis_max_connections=2, redis_pool_timeout_seconds=10)
    redis = create_redis(settings)
    assert redis is not None
    empty = f"{unique_key_prefix()}never-written"
    answers: list[object] = []

    async def hold_a_connection() -> None:
        # BLPOP on a key no one writes holds its connection for the timeout, then answers None.
        answers.append(await redis.blpop([empty], timeout=0.2))

    try:
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(hold_a_connection)
    finally:
        await redis.aclose()
    assert answers == [None] * 10


async def test_waiting_longer_than_the_pool_timeout_is_an_error() -> None:
    settings = settings_for_test(redis_url=REDIS_URL, redis_max_connections=1, redis_pool_timeout_seconds=0.1)
    redis = create_redis(settings)
    assert redis is not None
    empty = f"{unique_key_prefix()}never-written"

    async def hold_the_only_connection() -> None:
        await redis.blpop([empty], timeout=1)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(hold_the_only_connection)
            await anyio.sleep(0.05)  # the one connection is now held
            with pytest.raises(RedisConnectionError, match="No connection available"):
                await redis.ping()
            group.cancel_scope.cancel()
    finally:
        await redis.aclose()
