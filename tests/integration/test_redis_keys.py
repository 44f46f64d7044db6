"""Every key the app writes in Redis starts with REDIS_KEY_PREFIX, and cleaning up is by prefix.

So several deployments (or test runs) can share one Redis database, and each can remove what
it wrote without flushing the database or touching anyone else's keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.config.loader import SettingsError
from tests.conftest import REDIS_URL, ClientFactory, settings_for_test
from tests.support.accounts import bearer, login
from tests.support.factories import account_with_tokens
from tests.support.private_redis import PrivateRedis
from tests.support.redis_keys import delete_keys, unique_key_prefix

pytestmark = pytest.mark.anyio


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis of this test's own: every key in it was written by the app under test."""
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


async def all_keys(url: str) -> list[str]:
    redis = Redis.from_url(url, decode_responses=True)
    try:
        return sorted([key async for key in redis.scan_iter(count=1000)])
    finally:
        await redis.aclose()


async def test_every_key_the_app_writes_starts_with_its_prefix(
    make_client: ClientFactory, private_redis: PrivateRedis
) -> None:
    async with make_client(redis_url=private_redis.url, redis_key_prefix="tenant-a:") as client:
        assert (await client.post("/api/v1/auth/password/forgot", json={"email": "x@example.com"})).is_success
        assert (await login(client, "nobody@example.com", "wrong password 123456")).status_code == 400
        tokens = await account_with_tokens(client, "leaving@example.com")
        assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))).is_success
        keys = await all_keys(private_redis.url)
    assert keys
    assert [key for key in keys if not key.startswith("tenant-a:")] == []
    assert any(key.startswith("tenant-a:rl:") for key in keys)  # rate limits and sign-in attempts
    assert any(key.startswith("tenant-a:revoked-session:") for key in keys)


def test_the_default_prefix_keeps_the_keys_of_earlier_releases() -> None:
    """`invoicer:rl:...` and `invoicer:revoked-session:...`, as before the setting existed."""
    assert Settings.model_fields["redis_key_prefix"].default == "invoicer:"


@pytest.mark.parametrize("prefix", ["", "a*", "tenant?", "[ab]:", "with space:", "x" * 65])
def test_a_prefix_that_is_not_a_plain_literal_is_refused(prefix: str) -> None:
    """It is also the SCAN MATCH pattern of whoever cleans up: a glob would take others' keys."""
    with pytest.raises(SettingsError, match="REDIS_KEY_PREFIX"):
        settings_for_test(redis_key_prefix=prefix)


async def test_cleaning_up_deletes_the_prefix_and_nothing_else() -> None:
    mine, neighbour = unique_key_prefix(), unique_key_prefix()
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        for prefix in (mine, neighbour):
            for index in range(1200):  # more than one SCAN page and one DEL batch
                await redis.set(f"{prefix}key-{index}", "1", ex=600)
        assert await delete_keys(REDIS_URL, mine) == 1200
        assert [key async for key in redis.scan_iter(match=f"{mine}*")] == []
        assert len([key async for key in redis.scan_iter(match=f"{neighbour}*", count=1000)]) == 1200
    finally:
        await delete_keys(REDIS_URL, neighbour)
        await redis.aclose()
