"""Each test's own namespace in the shared Redis, and its removal.

Redis outlives a test run and is shared by every run on the machine, so the suite never
flushes a database: each test's apps write under a prefix of their own (REDIS_KEY_PREFIX),
which starts empty, and the test deletes that prefix's keys, and only those, when it ends.
"""

from __future__ import annotations

from redis.asyncio import Redis
from uuid_utils.compat import uuid7

_DELETE_BATCH = 500


def unique_key_prefix(kind: str = "test") -> str:
    return f"invoicer-{kind}:{uuid7().hex[-12:]}:"


async def delete_keys(redis_url: str, prefix: str) -> int:
    """SCAN MATCH `prefix*` and DEL what it finds; returns how many keys went."""
    if not prefix or set(prefix) & set("*?[]\\"):
        # An empty or glob prefix would match keys that are not the test's own.
        raise ValueError(f"not a literal key prefix: {prefix!r}")
    redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= _DELETE_BATCH:
                deleted += await redis.delete(*batch)
                batch.clear()
        if batch:
            deleted += await redis.delete(*batch)
    finally:
        await redis.aclose()
    return deleted
