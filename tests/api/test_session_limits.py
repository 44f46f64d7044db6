"""However many sessions an account has, they can all be ended; and it may only have so many.

Ending every session used to name each one in an `IN (...)` list, and above ~32,766 sessions
(a bound-parameter limit of both databases) an account could no longer be signed out, reset
or deactivated. The sessions here are inserted directly: tens of thousands of sign-ins would
take minutes of hashing, and the point is the ending, not the starting.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import AuthSession, User
from app.models.base import new_id, utcnow
from tests.conftest import ClientFactory
from tests.support.accounts import bearer, login
from tests.support.admin import deactivate_url, operator_headers
from tests.support.factories import account_with_tokens, make_user
from tests.support.rows import live_sessions, user_id_of
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

MANY = 33_000  # above the 32,766 bound parameters an IN list could carry
EMAIL = "busy@example.com"


async def insert_sessions(database_url: str, email: str, count: int) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            user_id = await connection.scalar(select(User.id).where(User.email == email))
            now = utcnow()
            rows = [
                {
                    "id": new_id(),
                    "user_id": user_id,
                    "kind": "token",
                    "created_at": now - timedelta(days=2),
                    "last_used_at": now - timedelta(days=1),
                    "expires_at": now + timedelta(days=20),
                }
                for _ in range(count)
            ]
            await connection.execute(insert(AuthSession), rows)
    finally:
        await engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["logout-all", "password-reset", "deactivation"])
async def test_tens_of_thousands_of_sessions_end_at_once(
    make_client: ClientFactory, mail: MailSink, database_url: str, ending: str
) -> None:
    async with make_client(max_sessions_per_user=10_000) as client:
        tokens = await account_with_tokens(client, EMAIL)
        await insert_sessions(database_url, EMAIL, MANY)
        assert await live_sessions(database_url, EMAIL) == MANY + 1

        if ending == "logout-all":
            response = await client.post("/api/v1/auth/logout-all", headers=bearer(tokens["access_token"]))
        elif ending == "password-reset":
            await client.post("/api/v1/auth/password/forgot", json={"email": EMAIL})
            response = await client.post(
                "/api/v1/auth/password/reset",
                json={"token": mail.last_to(EMAIL).token(), "new_password": "a fresh passphrase 2026"},
            )
        else:
            admin = await operator_headers(client)
            response = await client.post(deactivate_url(await user_id_of(database_url, EMAIL)), headers=admin)

        assert response.status_code == 204, response.text
        assert await live_sessions(database_url, EMAIL) == 0
        assert (
            await client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
        ).status_code == 401


async def test_signing_in_beyond_the_cap_ends_the_least_recently_used_session(
    make_client: ClientFactory, database_url: str
) -> None:
    async with make_client(max_sessions_per_user=3) as client:
        first = await account_with_tokens(client, EMAIL)
        later: list[dict[str, Any]] = [(await login(client, EMAIL)).json() for _ in range(3)]

        assert (
            await client.get("/api/v1/users/me", headers=bearer(first["access_token"]))
        ).status_code == 401
        refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert refreshed.status_code == 400
        for tokens in later:
            assert (
                await client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
            ).status_code == 200
        listing = await client.get("/api/v1/auth/sessions", headers=bearer(later[-1]["access_token"]))
        assert listing.json()["total"] == 3
        assert await live_sessions(database_url, EMAIL) == 3


async def test_the_cap_counts_recent_use_not_age(make_client: ClientFactory) -> None:
    """A session refreshed a moment ago is not the one ended, however old it is."""
    async with make_client(max_sessions_per_user=2) as client:
        oldest = await account_with_tokens(client, EMAIL)
        middle = (await login(client, EMAIL)).json()
        renewed = await client.post("/api/v1/auth/refresh", json={"refresh_token": oldest["refresh_token"]})
        assert renewed.status_code == 200
        await login(client, EMAIL)

        assert (
            await client.get("/api/v1/users/me", headers=bearer(middle["access_token"]))
        ).status_code == 401
        oldest_now = renewed.json()["access_token"]
        assert (await client.get("/api/v1/users/me", headers=bearer(oldest_now))).status_code == 200


async def test_the_cap_is_per_account(make_client: ClientFactory, database_url: str) -> None:
    async with make_client(max_sessions_per_user=1) as client:
        for email in (EMAIL, "neighbour@example.com"):  # signed in for real: the sign-in applies the cap
            await make_user(client, email)
        mine = (await login(client, EMAIL)).json()
        assert (await login(client, "neighbour@example.com")).status_code == 200
        assert (await client.get("/api/v1/users/me", headers=bearer(mine["access_token"]))).status_code == 200
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            live = await connection.scalar(
                select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))
            )
    finally:
        await engine.dispose()
    assert live == 2


async def test_concurrent_sign_ins_past_the_cap_all_succeed_and_the_cap_holds(
    make_client: ClientFactory, database_url: str
) -> None:
    """They all pick the same oldest sessions to end: each skips what another holds."""
    async with make_client(
        max_sessions_per_user=3,
        rate_limit_login_failures_per_account="1000/minute",
        rate_limit_login="1000/minute",
    ) as client:
        await make_user(client, EMAIL)
        for _ in range(4):
            await login(client, EMAIL)
        responses = await asyncio.gather(*(login(client, EMAIL) for _ in range(12)))
        assert [response.status_code for response in responses] == [200] * 12
        await login(client, EMAIL)  # a quiet sign-in ends whatever concurrency let through
        assert await live_sessions(database_url, EMAIL) == 3
