"""Sign-in state under races: nothing survives a deactivation or a credential change.

A sign-in spends most of its time hashing. The account can be deactivated, or its password
reset or changed, while the hash runs; the session it then writes must not outlive that
change. The gate below holds every sign-in between its password check and its session write,
so each test makes the race happen instead of hoping for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.util import await_only

from app.core.security.passwords import PasswordHasher
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, bearer, login
from tests.support.admin import deactivate_url, operator_headers
from tests.support.factories import account_with_tokens, make_user, signed_in
from tests.support.rows import live_sessions, update_user
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

VICTIM = "racer@example.com"
NEW_PASSWORD = "a brand new passphrase 77"
SIGN_INS = 8


class GatedHasher:
    """The real hasher; while armed, each verify waits at a gate once the password is checked."""

    def __init__(self, inner: PasswordHasher, *, expected: int) -> None:
        self._inner = inner
        self._expected = expected
        self.armed = False
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.gate = asyncio.Event()

    async def hash(self, password: str) -> str:
        return await self._inner.hash(password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        result = await self._inner.verify(password, password_hash)
        if self.armed:
            self.arrived += 1
            if self.arrived == self._expected:
                self.all_arrived.set()
            await self.gate.wait()
        return result


async def assert_dead(client: httpx.AsyncClient, responses: list[httpx.Response]) -> None:
    """Every sign-in that did succeed has tokens that no longer work."""
    for response in responses:
        if response.status_code != 200:
            continue
        tokens = response.json()
        assert (
            await client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
        ).status_code == 401
        refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 400


Change = Callable[[httpx.AsyncClient], Awaitable[None]]


async def prepare_change(kind: str, client: httpx.AsyncClient, mail: MailSink) -> tuple[Change, int]:
    """The account change to race against, and how many live sessions it leaves the victim."""
    if kind == "deactivation":
        admin = await operator_headers(client)
        victim_id = (await make_user(client, VICTIM)).id

        async def deactivate(client: httpx.AsyncClient) -> None:
            assert (await client.post(deactivate_url(victim_id), headers=admin)).status_code == 204

        return deactivate, 0
    if kind == "reset":
        await make_user(client, VICTIM)
        assert (await client.post("/api/v1/auth/password/forgot", json={"email": VICTIM})).status_code == 202
        token = mail.last_to(VICTIM).token()

        async def reset(client: httpx.AsyncClient) -> None:
            response = await client.post(
                "/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
            )
            assert response.status_code == 204, response.text

        return reset, 0
    assert kind == "change"
    own = bearer((await account_with_tokens(client, VICTIM))["access_token"])

    async def change(client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=own,
        )
        assert response.status_code == 204, response.text

    return change, 1  # the session that made the change stays


def gate_the_hasher(client: httpx.AsyncClient) -> GatedHasher:
    app: Any = client.app  # type: ignore[attr-defined]
    hasher = GatedHasher(app.state.services.password_hasher, expected=SIGN_INS)
    app.state.services.password_hasher = hasher
    return hasher


async def sign_ins_around(
    client: httpx.AsyncClient, hasher: GatedHasher, change: Change, *, release_first: bool
) -> list[httpx.Response]:
    """SIGN_INS sign-ins of the victim, all held after their password check; then the change,
    either while they are held or at the moment they are released."""
    hasher.armed = True
    sign_ins = [asyncio.create_task(login(client, VICTIM)) for _ in range(SIGN_INS)]
    await asyncio.wait_for(hasher.all_arrived.wait(), 20)  # every password checked, no session yet
    hasher.armed = False
    if release_first:
        hasher.gate.set()
        await change(client)
    else:
        await change(client)
        hasher.gate.set()
    return await asyncio.gather(*sign_ins)


@pytest.mark.parametrize("kind", ["deactivation", "reset", "change"])
async def test_sign_ins_in_flight_do_not_outlive_an_account_change(
    make_client: ClientFactory, mail: MailSink, database_url: str, kind: str
) -> None:
    async with make_client() as client:
        hasher = gate_the_hasher(client)
        change, sessions_left = await prepare_change(kind, client, mail)
        responses = await sign_ins_around(client, hasher, change, release_first=False)

        assert [response.status_code for response in responses] == [400] * SIGN_INS
        assert {response.json()["code"] for response in responses} == {"invalid_credentials"}
        await assert_dead(client, responses)
        assert await live_sessions(database_url, VICTIM) == sessions_left


@pytest.mark.parametrize("kind", ["deactivation", "reset"])
async def test_sign_ins_racing_an_account_change_never_leave_a_live_session(
    make_client: ClientFactory, mail: MailSink, database_url: str, kind: str
) -> None:
    """Released at the moment the change runs: whichever commits first, nothing survives."""
    async with make_client() as client:
        hasher = gate_the_hasher(client)
        change, _ = await prepare_change(kind, client, mail)
        responses = await sign_ins_around(client, hasher, change, release_first=True)

        assert {response.status_code for response in responses} <= {200, 400}
        await assert_dead(client, responses)
        assert await live_sessions(database_url, VICTIM) == 0


async def test_a_refresh_racing_sign_out_everywhere_is_refused(client: httpx.AsyncClient) -> None:
    """The refresh has read its live session; sign-out everywhere commits; then the refresh goes on."""
    victim = await make_user(client, VICTIM)
    tokens = await signed_in(client, victim)
    engine = client.app.state.services.database.engine  # type: ignore[attr-defined]
    reached, resume = asyncio.Event(), asyncio.Event()

    async def pause() -> None:
        reached.set()
        await resume.wait()

    def hold_the_claim(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE refresh_tokens") and not resume.is_set():
            await_only(pause())

    event.listen(engine.sync_engine, "before_cursor_execute", hold_the_claim)
    try:
        refreshing = asyncio.create_task(
            client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        )
        await asyncio.wait_for(reached.wait(), 10)
        other_device = await signed_in(client, victim)
        signed_out = await client.post(
            "/api/v1/auth/logout-all", headers=bearer(other_device["access_token"])
        )
        assert signed_out.status_code == 204
        resume.set()
        response = await refreshing
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", hold_the_claim)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_grant"


async def test_a_refresh_for_a_deactivated_account_is_refused(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Even when the deactivation did not end the sessions (an operator's SQL, say)."""
    tokens = await account_with_tokens(client, VICTIM)
    await update_user(database_url, VICTIM, is_active=False)
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400
