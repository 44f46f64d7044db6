"""Rate limits (the `limits` library) and their IETF RateLimit header fields.

Strategy: the sliding-window counter, not the moving window. Both refuse
bursts at a window boundary that a fixed window lets through; the moving window stores one
entry per request (O(quota) memory per key, and reading it walks the list), while the
sliding-window counter keeps two counters per key, so a generous quota costs the same as a
tight one (bench/login.py: 7 Redis round trips per login became 4, and none of them O(n)).

Storage is Redis in full mode (shared by every replica) and process memory in embedded mode.
On Redis, `hit` runs as one server-side script that counts and reports the window in a
single round trip (`limits` needs two: count, then read the window for the headers); it keeps
`limits`' keys and algorithm, so both read and count the same windows
(tests/integration/test_rate_limit_script.py holds them to equal decisions).
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis
from redis.commands.core import AsyncScript


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """A named quota, e.g. `login`: 30 requests per 60 s."""

    name: str
    item: RateLimitItem

    @classmethod
    def parse(cls, name: str, spec: str) -> RateLimitPolicy:
        return cls(name=name, item=parse(spec))

    @property
    def quota(self) -> int:
        return int(self.item.amount)

    @property
    def window_seconds(self) -> int:
        return int(self.item.get_expiry())


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    policy: RateLimitPolicy
    allowed: bool
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """draft-ietf-httpapi-ratelimit-headers: structured fields, `r` never negative."""
        name = self.policy.name
        return {
            "RateLimit-Policy": f'"{name}";q={self.policy.quota};w={self.policy.window_seconds}',
            "RateLimit": f'"{name}";r={max(self.remaining, 0)};t={self.reset_seconds}',
        }

    @property
    def retry_after_seconds(self) -> int:
        return max(self.reset_seconds, 1)


class RateLimiter:
    def __init__(self, storage: Storage) -> None:
        self._strategy = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, policy: RateLimitPolicy, key: str) -> RateLimitStatus:
        """Count one request for `key`; `allowed` is False once the quota is used up."""
        allowed = await self._strategy.hit(policy.item, policy.name, key)
        return await self._status(policy, key, allowed=allowed)

    async def acquire(self, policy: RateLimitPolicy, key: str) -> bool:
        """Count one unit for `key` if the quota allows it, in one atomic step (one round trip).

        The check and the count are one operation in the storage (a script in Redis), so N
        concurrent callers get at most the quota's worth of True between them.
        """
        return await self._strategy.hit(policy.item, policy.name, key)

    async def peek(self, policy: RateLimitPolicy, key: str) -> RateLimitStatus:
        """The status without counting."""
        stats = await self._strategy.get_window_stats(policy.item, policy.name, key)
        return self._from_stats(policy, stats, allowed=stats.remaining > 0)

    async def clear(self, policy: RateLimitPolicy, key: str) -> None:
        await self._strategy.clear(policy.item, policy.name, key)

    async def _status(self, policy: RateLimitPolicy, key: str, *, allowed: bool) -> RateLimitStatus:
        stats = await self._strategy.get_window_stats(policy.item, policy.name, key)
        return self._from_stats(policy, stats, allowed=allowed)

    @staticmethod
    def _from_stats(policy: RateLimitPolicy, stats: WindowStats, *, allowed: bool) -> RateLimitStatus:
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return RateLimitStatus(policy=policy, allowed=allowed, remaining=stats.remaining, reset_seconds=reset)


# `limits`' acquire_sliding_window.lua and sliding_window.lua as one script: shift an expired
# current window to the previous one, count `amount` if the weighted count leaves room, and
# return the decision with the window as it stands afterwards.
_HIT_AND_REPORT = """
local limit = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2]) * 1000
local amount = tonumber(ARGV[3])

local current_ttl = tonumber(redis.call('pttl', KEYS[2]))
if current_ttl > 0 and current_ttl < expiry then
    redis.call('rename', KEYS[2], KEYS[1])
    redis.call('set', KEYS[2], 0, 'PX', current_ttl + expiry)
end

local function window()
    local previous_count = tonumber(redis.call('get', KEYS[1])) or 0
    local previous_ttl = math.max(tonumber(redis.call('pttl', KEYS[1])) or 0, 0)
    local current_count = tonumber(redis.call('get', KEYS[2])) or 0
    local ttl = math.max(tonumber(redis.call('pttl', KEYS[2])) or 0, 0)
    return previous_count, previous_ttl, current_count, ttl
end

local previous_count, previous_ttl, current_count, ttl = window()
local allowed = 0
local weighted = math.floor(previous_count * previous_ttl / expiry) + current_count
if amount <= limit and weighted + amount <= limit then
    allowed = 1
    if redis.call('exists', KEYS[2]) == 1 then
        redis.call('incrby', KEYS[2], amount)
    else
        redis.call('set', KEYS[2], amount, 'PX', expiry * 2)
    end
    previous_count, previous_ttl, current_count, ttl = window()
end
return {allowed, previous_count, previous_ttl, current_count, ttl}
"""


class RedisRateLimiter(RateLimiter):
    """The same limits on Redis, with `hit` in one round trip."""

    def __init__(self, storage: RedisStorage, redis: Redis, *, key_prefix: str) -> None:
        super().__init__(storage)
        self._key_prefix = key_prefix
        self._hit_and_report: AsyncScript = redis.register_script(_HIT_AND_REPORT)

    async def hit(self, policy: RateLimitPolicy, key: str) -> RateLimitStatus:
        # The keys `limits` gives the window of this policy and key: "{prefix}:{{item key}}",
        # the previous window's with "/-1" (braces keep both on one Redis Cluster slot).
        current = f"{self._key_prefix}:{{{policy.item.key_for(policy.name, key)}}}"
        reply = await self._hit_and_report(
            keys=[f"{current}/-1", current], args=[policy.quota, policy.window_seconds, 1]
        )
        allowed, previous_count, previous_ttl_ms, current_count, current_ttl_ms = (int(v) for v in reply)
        stats = _window_stats(
            policy, previous_count, previous_ttl_ms / 1000, current_count, current_ttl_ms / 1000
        )
        return self._from_stats(policy, stats, allowed=bool(allowed))


def _window_stats(
    policy: RateLimitPolicy,
    previous_count: int,
    previous_expires_in: float,
    current_count: int,
    current_expires_in: float,
) -> WindowStats:
    """`limits`' SlidingWindowCounterRateLimiter.get_window_stats, from a window already read."""
    expiry = policy.window_seconds
    weighted = previous_count * previous_expires_in / expiry + current_count
    remaining = max(0, policy.quota - math.floor(weighted))
    now = time.time()
    if not (previous_count or current_count):
        return WindowStats(now, remaining)
    previous_reset_in = previous_expires_in % (expiry / previous_count) if previous_count else math.inf
    current_reset_in = current_expires_in % expiry if current_count else math.inf
    return WindowStats(now + min(previous_reset_in, current_reset_in), remaining)


def client_network(address: str, *, ipv6_prefix_length: int) -> str:
    """The rate-limit key of a client address: an IPv6 client is its /64 (or the configured) prefix.

    One IPv6 subscriber usually holds a whole /64, so per-address limits on IPv6 would give
    an attacker 2**64 fresh quotas. IPv4-mapped IPv6 addresses count as their IPv4 address.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix_length), strict=False))
    return str(ip)


def create_rate_limiter(redis: Redis | None, redis_url: str | None, *, key_prefix: str) -> RateLimiter:
    if redis is None or redis_url is None:
        return RateLimiter(MemoryStorage())
    # Share the app's Redis pool instead of opening a second one.
    options: dict[str, Any] = {"connection_pool": redis.connection_pool}
    storage = RedisStorage(
        f"async+{redis_url}", implementation="redispy", key_prefix=f"{key_prefix}rl", **options
    )
    return RedisRateLimiter(storage, redis, key_prefix=f"{key_prefix}rl")
