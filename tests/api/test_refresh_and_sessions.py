"""Refresh rotation, family revocation on reuse, sessions, logout and RFC 7009 revocation."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import event
from sqlalchemy.util import await_only

from app.models.base import utcnow
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, bearer, login
from tests.support.factories import account_with_tokens, make_user

pytestmark = pytest.mark.anyio

ME = "/api/v1/users/me"
REFRESH = "/api/v1/auth/refresh"
SESSIONS = "/api/v1/auth/sessions"


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


@pytest.fixture
async def tokens(client: httpx.AsyncClient) -> dict[str, Any]:
    return await account_with_tokens(client, "rot@example.com")


async def test_refresh_rotates(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    response = await refresh(client, tokens["refresh_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    fresh = response.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert (await client.get(ME, headers=bearer(fresh["access_token"]))).status_code == 200
    assert (await refresh(client, fresh["refresh_token"])).status_code == 200


async def test_reuse_revokes_the_whole_family(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    first = (await refresh(client, tokens["refresh_token"])).json()
    second = (await refresh(client, first["refresh_token"])).json()
    replay = await refresh(client, tokens["refresh_token"])  # a leaked, spent token
    assert replay.status_code == 400
    assert (replay.json()["code"], replay.json()["error"]) == ("invalid_grant", "invalid_grant")
    # The newest token of the family and its access token are dead too.
    assert (await refresh(client, second["refresh_token"])).status_code == 400
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 401


async def test_unknown_and_hostile_refresh_tokens(client: httpx.AsyncClient) -> None:
    assert (await refresh(client, "A" * 43)).status_code == 400
    assert (await client.post(REFRESH, json={"refresh_token": "x"})).status_code == 422
    assert (await client.post(REFRESH, json={"refresh_token": "a b c" * 10})).status_code == 422
    assert (await client.post(REFRESH, json={})).status_code == 422
    assert (await client.post(REFRESH, data={"refresh_token": "A" * 43})).status_code == 422


async def test_concurrent_refresh_exactly_one_wins(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    """Forced, not hoped for: both requests have read the token as unspent before either spends it."""
    engine = client.app.state.services.database.engine  # type: ignore[attr-defined]
    barrier = asyncio.Barrier(2)
    claims_seen = 0

    def meet_before_claiming(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal claims_seen
        if statement.startswith("UPDATE refresh_tokens") and claims_seen < 2:
            claims_seen += 1
            await_only(asyncio.wait_for(barrier.wait(), 10))

    event.listen(engine.sync_engine, "before_cursor_execute", meet_before_claiming)
    try:
        responses = await asyncio.gather(*(refresh(client, tokens["refresh_token"]) for _ in range(2)))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", meet_before_claiming)
    assert claims_seen == 2
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 400]
    [winner] = [response.json() for response in responses if response.status_code == 200]
    [loser] = [response.json() for response in responses if response.status_code == 400]
    assert loser["code"] == "invalid_grant"
    # A token presented twice is treated as leaked, whatever the timing: the family ends.
    assert (await refresh(client, winner["refresh_token"])).status_code == 400
    assert (await client.get(ME, headers=bearer(winner["access_token"]))).status_code == 401


async def test_idle_and_absolute_expiry(make_client: ClientFactory) -> None:
    async with make_client(
        refresh_token_idle_ttl_seconds=3600, refresh_token_absolute_ttl_seconds=7200
    ) as client:
        tokens = await account_with_tokens(client, "expiry@example.com")
        start = utcnow()
        with time_machine.travel(start.timestamp() + 3601, tick=False):
            assert (await refresh(client, tokens["refresh_token"])).status_code == 400  # idle
            again = (await login(client, "expiry@example.com")).json()
            listing = await client.get("/api/v1/auth/sessions", headers=bearer(again["access_token"]))
            assert listing.json()["total"] == 1  # the idle session is no longer listed
        latest = tokens["refresh_token"]
        for minutes in (50, 100):  # used within the idle window, but...
            with time_machine.travel(start.timestamp() + minutes * 60, tick=False):
                response = await refresh(client, latest)
                assert response.status_code == 200
                latest = response.json()["refresh_token"]
        with time_machine.travel(start.timestamp() + 7201, tick=False):
            assert (await refresh(client, latest)).status_code == 400  # ...absolute lifetime is over


async def test_sessions_are_listed_live_up_to_the_exact_limit(make_client: ClientFactory) -> None:
    """A session is listed while younger than its absolute limit and used within the idle one."""
    async with make_client(
        refresh_token_idle_ttl_seconds=3600, refresh_token_absolute_ttl_seconds=7200
    ) as client:
        await make_user(client, "limits@example.com")
        start = utcnow().timestamp()
        with time_machine.travel(start, tick=False):
            latest = (await login(client, "limits@example.com")).json()
        with time_machine.travel(start + 100, tick=False):
            assert (await login(client, "limits@example.com")).status_code == 200  # then left idle
        for at in (3500, 7000):  # the first session stays in use
            with time_machine.travel(start + at, tick=False):
                latest = (await refresh(client, latest["refresh_token"])).json()
            if at == 3500:
                with time_machine.travel(start + 3700, tick=False):  # idle for exactly the limit
                    listing = await client.get(SESSIONS, headers=bearer(latest["access_token"]))
                assert listing.json()["total"] == 1
        with time_machine.travel(start + 7200, tick=False):  # exactly the absolute limit
            listing = await client.get(SESSIONS, headers=bearer(latest["access_token"]))
    assert listing.status_code == 200  # the access token outlives its session by a few minutes
    assert (listing.json()["total"], listing.json()["items"]) == (0, [])


async def test_sessions_are_listed_newest_first_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    """Newest sign-in first, whatever order the rows were written in; one instant's by id."""
    await make_user(client, "pages@example.com")
    start = utcnow().timestamp()
    for offset in (120, 60, 0, 180, 180, 180):
        with time_machine.travel(start + offset, tick=False):
            assert (await login(client, "pages@example.com")).status_code == 200
    with time_machine.travel(start + 240, tick=False):
        headers = bearer((await login(client, "pages@example.com")).json()["access_token"])
        everything = (await client.get(SESSIONS, headers=headers)).json()
        pages = [
            (await client.get(f"{SESSIONS}?limit=3&offset={offset}", headers=headers)).json()
            for offset in (0, 3, 6)
        ]
    items = everything["items"]
    assert everything["total"] == len(items) == 7
    assert items[0]["current"]
    newest_first = sorted(
        items, key=lambda item: (datetime.fromisoformat(item["created_at"]), item["id"]), reverse=True
    )
    assert [item["id"] for item in items] == [item["id"] for item in newest_first]
    assert [(page["total"], len(page["items"])) for page in pages] == [(7, 3), (7, 3), (7, 1)]
    assert [item for page in pages for item in page["items"]] == items


async def test_logout_ends_access_and_refresh_at_once(
    client: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    headers = bearer(tokens["access_token"])
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get(ME, headers=headers)).status_code == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 400


async def test_sessions_list_and_end_one(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    second = (await login(client, "rot@example.com")).json()
    listing = await client.get("/api/v1/auth/sessions", headers=bearer(tokens["access_token"]))
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 2
    assert body["limit"] == 50
    assert body["offset"] == 0
    assert [item["current"] for item in body["items"]].count(True) == 1
    other = next(item for item in body["items"] if not item["current"])
    ended = await client.delete(
        f"/api/v1/auth/sessions/{other['id']}", headers=bearer(tokens["access_token"])
    )
    assert ended.status_code == 204
    again = await client.delete(
        f"/api/v1/auth/sessions/{other['id']}", headers=bearer(tokens["access_token"])
    )
    assert again.status_code == 404  # an ended session is no longer one of the user's
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200
    page = await client.get("/api/v1/auth/sessions?limit=1&offset=0", headers=bearer(tokens["access_token"]))
    assert page.json()["total"] == 1


async def test_another_users_session_is_not_found(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    intruder = await account_with_tokens(client, "intruder@example.com")
    mine = (await client.get("/api/v1/auth/sessions", headers=bearer(tokens["access_token"]))).json()
    target = mine["items"][0]["id"]
    response = await client.delete(
        f"/api/v1/auth/sessions/{target}", headers=bearer(intruder["access_token"])
    )
    assert response.status_code == 404
    missing = await client.delete(
        "/api/v1/auth/sessions/00000000-0000-7000-8000-000000000000", headers=bearer(intruder["access_token"])
    )
    assert missing.status_code == 404
    assert response.json()["detail"] == missing.json()["detail"]
    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=100000", "offset=-1", "limit=abc"])
async def test_session_paging_is_bounded(
    client: httpx.AsyncClient, tokens: dict[str, Any], query: str
) -> None:
    response = await client.get(f"/api/v1/auth/sessions?{query}", headers=bearer(tokens["access_token"]))
    assert response.status_code == 422


async def test_logout_all(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    second = (await login(client, "rot@example.com")).json()
    assert (
        await client.post("/api/v1/auth/logout-all", headers=bearer(tokens["access_token"]))
    ).status_code == 204
    for pair in (tokens, second):
        assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 401
        assert (await refresh(client, pair["refresh_token"])).status_code == 400


async def test_revoke_endpoint_rfc7009(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    bystander = await account_with_tokens(client, "bystander@example.com")
    unknown = await client.post("/api/v1/auth/revoke", data={"token": "never-issued-token-value"})
    assert unknown.status_code == 200
    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200  # a no-op
    revoked = await client.post(
        "/api/v1/auth/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    )
    assert revoked.status_code == 200
    assert revoked.content == b""
    assert (revoked.headers["cache-control"], revoked.headers["pragma"]) == ("no-store", "no-cache")
    assert revoked.headers["ratelimit-policy"].startswith('"refresh";')  # as every limited route
    assert (await refresh(client, tokens["refresh_token"])).status_code == 400
    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 401
    assert (await refresh(client, bystander["refresh_token"])).status_code == 200  # that session only
    again = await client.post("/api/v1/auth/revoke", data={"token": tokens["refresh_token"]})
    assert again.status_code == 200


async def test_revoking_an_access_token_ends_its_session(
    client: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    assert (
        await client.post("/api/v1/auth/revoke", data={"token": tokens["access_token"]})
    ).status_code == 200
    assert (await refresh(client, tokens["refresh_token"])).status_code == 400


async def test_password_login_never_returns_secrets(
    client: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    me = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert "password" not in me.text
    assert "$argon2" not in me.text
    assert PASSWORD not in me.text


async def test_path_parameters_are_typed(client: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    response = await client.delete("/api/v1/auth/sessions/not-a-uuid", headers=bearer(tokens["access_token"]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "session_id"]


async def test_client_details_are_bounded_before_they_are_stored(make_client: ClientFactory) -> None:
    """A proxy may pass on any text as the client address; a client sends any user agent."""
    async with make_client(client_address=("forwarded-for-garbage", 1)) as client:
        await make_user(client, "odd@example.com")
        hostile_agent = "Agent\x00\x1b[31m\u2028" + "A" * 5000
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": "odd@example.com", "password": PASSWORD},
            headers={"User-Agent": hostile_agent.encode("latin-1", "replace").decode("latin-1")},
        )
        assert response.status_code == 200
        listing = await client.get("/api/v1/auth/sessions", headers=bearer(response.json()["access_token"]))
        [stored] = listing.json()["items"]
    assert stored["ip_address"] is None
    assert stored["user_agent"].startswith("Agent[31m")
    assert len(stored["user_agent"]) == 400
