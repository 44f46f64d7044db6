"""Revoked session ids, checked on every authenticated request (one round trip at most).

An access token lives minutes; when its session is revoked (logout, password change, family
reuse) the session id is put here for at least that long, so the token stops working at once
without a database lookup per request. Redis in full mode (shared by replicas), process
memory in embedded mode.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Protocol

from redis.asyncio import Redis

# After the deployment's REDIS_KEY_PREFIX.
KEY_NAMESPACE = "revoked-session:"


class RevocationStore(Protocol):
    async def revoke(self, session_ids: Iterable[uuid.UUID], *, ttl_seconds: int) -> None: ...

    async def is_revoked(self, session_id: uuid.UUID) -> bool: ...


class MemoryRevocationStore:
    def __init__(self) -> None:
        self._expiry: dict[uuid.UUID, float] = {}

    async def revoke(self, session_ids: Iterable[uuid.UUID], *, ttl_seconds: int) -> None:
        now = time.monotonic()
        # Drop expired entries as we go, so the dict stays bounded by live revocations.
        for session_id, expires in list(self._expiry.items()):
            if expires <= now:
                del self._expiry[session_id]
        for session_id in session_ids:
            self._expiry[session_id] = now + ttl_seconds

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        expires = self._expiry.get(session_id)
        return expires is not None and expires > time.monotonic()


class RedisRevocationStore:
    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}{KEY_NAMESPACE}"

    async def revoke(self, session_ids: Iterable[uuid.UUID], *, ttl_seconds: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.set(f"{self._prefix}{session_id}", b"1", ex=ttl_seconds)
            await pipe.execute()

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}{session_id}"))
