"""The one-round-trip rate-limit script on Redis decides exactly as `limits` does.

`RedisRateLimiter.hit` counts and reads the window in one script instead of `limits`' two
calls. It must keep `limits`' algorithm (the sliding-window counter) and its keys: the same
sequence of requests gets the same answers and the same remaining counts, and a window
counted by one is the window the other reads (the sign-in throttle still counts through
`limits` itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from app.core.rate_limit import (
    RateLimiter,
    RateLimitPolicy,
    RateLimitStatus,
    RedisRateLimiter,
    create_rate_limiter,
)
from tests.conftest import REDIS_URL
from tests.support.redis_keys import delete_keys, unique_key_prefix

pytestmark = pytest.mark.anyio

POLICY = RateLimitPolicy.parse("api", "5/second")
Pair = tuple[RateLimiter, SlidingWindowCounterRateLimiter]


@pytest.fixture
async def redis_pair() -> AsyncIterator[Pair]:
    """(our limiter, `limits`' own strategy) on one Redis under one fresh prefix."""
    prefix = unique_key_prefix("rate-limit-script")
    redis = Redis.from_url(REDIS_URL)
    ours = create_rate_limiter(redis, REDIS_URL, key_prefix=prefix)
    assert isinstance(ours, RedisRateLimiter)  # the one-round-trip script is what is held here
    storage = RedisStorage(f"async+{REDIS_URL}", implementation="redispy", key_prefix=f"{prefix}rl")
    try:
        yield ours, SlidingWindowCounterRateLimiter(storage)
    finally:
        await delete_keys(REDIS_URL, prefix)
        await redis.aclose()


async def reference_hit(strategy: SlidingWindowCounterRateLimiter, key: str) -> tuple[bool, int]:
    allowed = await strategy.hit(POLICY.item, POLICY.name, key)
    stats = await strategy.get_window_stats(POLICY.item, POLICY.name, key)
    return allowed, stats.remaining


def decision(status: RateLimitStatus) -> tuple[bool, int]:
    return status.allowed, status.remaining


async def test_the_same_requests_get_the_same_answers(redis_pair: Pair) -> None:
    ours, reference = redis_pair
    ours_answers: list[tuple[bool, int]] = []
    reference_answers: list[tuple[bool, int]] = []
    for _ in range(8):  # quota 5: five allowed, then refusals with nothing remaining
        ours_answers.append(decision(await ours.hit(POLICY, "ours")))
        reference_answers.append(await reference_hit(reference, "reference"))
    assert ours_answers == reference_answers
    assert [allowed for allowed, _ in ours_answers] == [True] * 5 + [False] * 3
    # Into the next window: the previous one still weighs (5 * 0.75 s left of 1 s: 3 counted).
    await asyncio.sleep(1.25)
    for _ in range(3):
        ours_answers.append(decision(await ours.hit(POLICY, "ours")))
        reference_answers.append(await reference_hit(reference, "reference"))
    assert ours_answers[8:] == reference_answers[8:]
    assert any(allowed for allowed, _ in ours_answers[8:])
    assert not all(allowed for allowed, _ in ours_answers[8:])


async def test_one_window_whoever_counts_it(redis_pair: Pair) -> None:
    ours, reference = redis_pair
    for _ in range(3):
        assert (await ours.hit(POLICY, "shared")).allowed
    assert (await reference.get_window_stats(POLICY.item, POLICY.name, "shared")).remaining == 2
    assert await reference.hit(POLICY.item, POLICY.name, "shared")
    assert await reference.hit(POLICY.item, POLICY.name, "shared")
    refused = await ours.hit(POLICY, "shared")
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert 0 <= refused.reset_seconds <= 1
