"""Shared caching (cashews): report payloads under per-organization versioned keys.

- **Where.** Redis in full mode (every replica and worker reads and invalidates the same
  entries), process memory in embedded mode (a bounded LRU with TTL: cashews' `mem://`).
  Values are bytes (the response body, JSON), never pickles: nothing read back from Redis is
  ever unpickled.
- **Invalidation without scans.** Each organization has a version counter; every payload key
  includes the version it was computed under. A change of the figures bumps the counter once
  its transaction committed (`Database.after_commit`, wired in app/wiring.py), so the next
  read misses and recomputes; the old entries are never looked up again and expire by TTL.
  The version key itself lives `VERSION_TTL_SECONDS`, far longer than any payload, and every
  bump renews it, so a counter never restarts while payloads computed under it exist.
- **Stampede protection.** On a miss, one caller per key computes: in a process, the others
  wait on a per-key `asyncio.Lock`; across processes the computing one holds a cashews lock
  (`SET NX` with expiry in Redis) that the others poll; either way, a waiter that gets the
  lock finds the value in the cache and does not compute it again. 200 concurrent requests on a
  cold key run the aggregate once (tests/api/test_reports_cache.py).
- **Failures.** A Redis error reads as a miss (cashews' `suppress`), so an outage costs
  latency, not availability; a lost bump leaves a report stale for at most its TTL.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cashews import Cache

VERSION_TTL_SECONDS = 30 * 24 * 3600
_POLL_SECONDS = 0.02


def create_cache(redis_url: str | None, *, memory_entries: int) -> Cache:
    """A cashews cache on Redis (full mode) or in process memory (embedded mode)."""
    cache = Cache()
    if redis_url is None:
        cache.setup(f"mem://?size={memory_entries}&check_interval=10")
    else:
        cache.setup(redis_url, pickle_type="null", suppress=True, max_connections=20)
    return cache


@dataclass(slots=True)
class _Flight:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class VersionedCache:
    """Payloads per organization, invalidated by bumping the organization's version."""

    def __init__(self, cache: Cache, *, key_prefix: str, ttl_seconds: int, lock_seconds: int = 30) -> None:
        self._cache = cache
        self._prefix = f"{key_prefix}cache:"
        self.ttl_seconds = ttl_seconds
        self._lock_seconds = lock_seconds
        self._flights: dict[str, _Flight] = {}

    async def version(self, org_id: uuid.UUID) -> int:
        value = await self._cache.get(self._version_key(org_id))
        return 0 if value is None else int(value)

    async def bump(self, org_ids: frozenset[uuid.UUID] | set[uuid.UUID]) -> None:
        for org_id in sorted(org_ids):
            await self._cache.incr(self._version_key(org_id), expire=VERSION_TTL_SECONDS)

    async def get_or_compute(
        self, org_id: uuid.UUID, name: str, compute: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, bool]:
        """The payload named `name` for the organization's current version, and whether it was
        a hit; on a miss exactly one caller (per key, across processes) runs `compute`."""
        key = f"{self._prefix}{org_id}:{await self.version(org_id)}:{name}"
        found = await self._cache.get(key)
        if found is not None:
            return bytes(found), True
        flight = self._flights.setdefault(key, _Flight())
        flight.users += 1
        try:
            async with flight.lock:
                found = await self._cache.get(key)
                if found is not None:
                    return bytes(found), True
                async with self._cache.lock(
                    f"{key}:lock", expire=self._lock_seconds, wait=True, check_interval=_POLL_SECONDS
                ):
                    found = await self._cache.get(key)
                    if found is not None:
                        return bytes(found), True
                    value = await compute()
                    await self._cache.set(key, value, expire=self.ttl_seconds)
                    return value, False
        finally:
            flight.users -= 1
            if flight.users == 0:
                del self._flights[key]

    async def close(self) -> None:
        with warnings.catch_warnings():  # cashews 7.6 calls redis-py's deprecated close()
            warnings.simplefilter("ignore", DeprecationWarning)
            await self._cache.close()

    def _version_key(self, org_id: uuid.UUID) -> str:
        return f"{self._prefix}v:{org_id}"
