"""The shared Redis client (full mode): one bounded, blocking pool per process, explicit timeouts.

redis-py's default pool raises as soon as its connections are all in use, so a burst of
requests beyond the pool size would fail at once (a 503 at the first Redis call: the rate limit
or the revocation check). A `BlockingConnectionPool` makes the burst wait for a connection,
up to `REDIS_POOL_TIMEOUT_SECONDS`, like the database pool does.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from app.core.config import Settings


def create_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    pool = BlockingConnectionPool.from_url(
        settings.redis_url.get_secret_value(),
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        decode_responses=False,
    )
    # `from_pool`: the client owns the pool, so closing the client closes its connections.
    return Redis.from_pool(pool)
