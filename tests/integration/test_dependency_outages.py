"""Fault drills: a database or Redis that cannot be reached is a 503 with Retry-After, not a 500,
and the API recovers by itself when the service is back. Private instances or our own
connections only; the shared services are never stopped."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.main import create_app
from tests.conftest import ClientFactory, running_app, settings_for_test
from tests.support.accounts import bearer
from tests.support.factories import account_with_tokens
from tests.support.private_redis import PrivateRedis

pytestmark = pytest.mark.anyio

ME = "/api/v1/users/me"


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"] == "service_unavailable"


async def test_an_unreachable_database_is_a_503_and_liveness_stays_up() -> None:
    settings = settings_for_test(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", db_connect_timeout_seconds=1
    )
    async with running_app(create_app(settings)) as client:
        response = await client.post(
            "/api/v1/auth/token", data={"username": "someone@example.com", "password": "x" * 12}
        )
        assert_unavailable(response)
        assert (await client.get("/livez")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503


async def test_a_connection_dropped_inside_the_trust_window_fails_once_then_the_pool_recovers(
    make_client: ClientFactory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite connection cannot be ended from outside")
    async with make_client(db_pool_pre_ping_idle_seconds=3600, db_pool_size=1) as client:
        tokens = await account_with_tokens(client, "dropped@example.com")
        assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200
        database = database_url.rsplit("/", 1)[1]
        admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                # With a timeout, PostgreSQL returns once each backend has actually exited.
                ended = await connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                        "WHERE datname = :database AND application_name = 'invoicer' "
                        "AND pid <> pg_backend_pid()"
                    ),
                    {"database": database},
                )
        finally:
            await admin.dispose()
        assert ended >= 1
        assert_unavailable(await client.get(ME, headers=bearer(tokens["access_token"])))
        assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


async def test_a_redis_outage_is_a_503_and_the_api_recovers_when_it_returns(
    make_client: ClientFactory, database_url: str, private_redis: PrivateRedis
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("Redis is the full mode's; once, on PostgreSQL, is enough")
    async with make_client(redis_url=private_redis.url) as client:
        tokens = await account_with_tokens(client, "redis-drill@example.com")
        headers = bearer(tokens["access_token"])
        assert (await client.get(ME, headers=headers)).status_code == 200

        private_redis.stop()
        # The revocation check can't be made, so the token is not trusted (fail closed)...
        assert_unavailable(await client.get(ME, headers=headers))
        # ...and sign-in can't be rate limited, so it is refused too.
        assert_unavailable(
            await client.post(
                "/api/v1/auth/token", data={"username": "redis-drill@example.com", "password": "x" * 12}
            )
        )
        assert (await client.get("/readyz")).status_code == 503

        private_redis.start()  # the same port; the client reconnects by itself
        assert (await client.get(ME, headers=headers)).status_code == 200
