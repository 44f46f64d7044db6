"""Passwords: reset, change, lockout that never blocks the reset, rehash on login."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.core.security.passwords import PasswordHasher
from tests.conftest import REDIS_URL, ClientFactory
from tests.support.accounts import PASSWORD, bearer, login, verified_account
from tests.support.factories import account_with_tokens, make_user
from tests.support.response_path import statements_before_response
from tests.support.rows import stored_hash
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a whole new passphrase 2026"


async def test_forgot_password_answers_the_same_for_unknown_addresses(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    await make_user(client, "known@example.com")
    known = await client.post("/api/v1/auth/password/forgot", json={"email": "KNOWN@example.com"})
    unknown = await client.post("/api/v1/auth/password/forgot", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert "reset-password?token=" in mail.last_to("known@example.com").body
    assert mail.to("nobody@example.com") == []


async def test_forgot_password_does_its_work_after_the_response(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    """No query runs before the answer goes out, for a known address as for an unknown one:
    the response path costs the same either way, and its timing reveals nothing."""
    await make_user(client, "timed@example.com")
    for email in ("timed@example.com", "nobody@example.com"):
        before = await statements_before_response(
            client, "POST", "/api/v1/auth/password/forgot", json={"email": email}
        )
        assert before == [], email
    assert "reset-password?token=" in mail.last_to("timed@example.com").body  # sent, afterwards


async def test_reset_sets_the_password_and_ends_every_session(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    tokens = await account_with_tokens(client, "reset@example.com")
    await client.post("/api/v1/auth/password/forgot", json={"email": "reset@example.com"})
    token = mail.last_to("reset@example.com").token()
    response = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))).status_code == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400
    assert (await login(client, "reset@example.com")).status_code == 400
    assert (await login(client, "reset@example.com", NEW_PASSWORD)).status_code == 200
    assert "password was changed" in mail.last_to("reset@example.com").subject
    reused = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD + "!"}
    )
    assert reused.status_code == 400


async def test_reset_enforces_the_policy_and_changes_nothing(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    await make_user(client, "policy@example.com")
    before = await stored_hash(database_url, "policy@example.com")
    await client.post("/api/v1/auth/password/forgot", json={"email": "policy@example.com"})
    token = mail.last_to("policy@example.com").token()
    for weak in ("short", "1qaz2wsx3edc", "a" * 300):
        response = await client.post(
            "/api/v1/auth/password/reset", json={"token": token, "new_password": weak}
        )
        assert response.status_code == 422, weak
    assert await stored_hash(database_url, "policy@example.com") == before
    # The token was not spent by the refused attempts.
    ok = await client.post("/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert ok.status_code == 204


async def test_wrong_password_unknown_user_and_disabled_user_answer_identically(
    client: httpx.AsyncClient,
) -> None:
    await make_user(client, "same@example.com")
    await make_user(client, "disabled@example.com", active=False)
    responses = [
        await login(client, "same@example.com", "wrong password 123456"),
        await login(client, "nobody-here@example.com", "wrong password 123456"),
        await login(client, "disabled@example.com", PASSWORD),
    ]
    bodies = [{k: v for k, v in r.json().items() if k not in ("request_id", "instance")} for r in responses]
    assert {r.status_code for r in responses} == {400}
    assert bodies[0] == bodies[1] == bodies[2]
    assert (bodies[0]["code"], bodies[0]["error"]) == ("invalid_credentials", "invalid_grant")


async def test_unknown_user_still_costs_a_password_verify(client: httpx.AsyncClient) -> None:
    hasher: PasswordHasher = client.app.state.services.password_hasher  # type: ignore[attr-defined]
    verified: list[str | None] = []
    original = hasher.verify

    async def spy(password: str, password_hash: str | None) -> tuple[bool, str | None]:
        verified.append(password_hash)
        return await original(password, password_hash)

    hasher.verify = spy  # type: ignore[method-assign]
    response = await login(client, "ghost@example.com", "some password 12345")
    assert response.status_code == 400
    assert verified == [None]  # a dummy verify ran (against the dummy hash)


def store_settings(store: str) -> dict[str, Any]:
    """The throttle's storage: process memory (embedded mode) or Redis (full mode)."""
    return {"redis_url": REDIS_URL} if store == "redis" else {}


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_lockout_refuses_even_the_right_password_but_not_the_reset(
    make_client: ClientFactory, mail: MailSink, store: str
) -> None:
    locked_email, ghost = "locked@example.com", "ghost@example.com"
    async with make_client(
        rate_limit_login_failures_per_account="3 per 15 minutes", **store_settings(store)
    ) as client:
        await make_user(client, locked_email)
        for _ in range(3):
            assert (await login(client, locked_email, "wrong password 123456")).status_code == 400
        locked = await login(client, locked_email)
        assert locked.status_code == 429
        assert locked.json()["code"] == "rate_limited"
        assert int(locked.headers["retry-after"]) > 0
        assert locked.headers["cache-control"] == "no-store"
        # An unknown account locks out identically: the 429 reveals nothing.
        for _ in range(3):
            await login(client, ghost, "wrong password 123456")
        assert (await login(client, ghost, "wrong password 123456")).status_code == 429
        # The reset flow still works, and clears the lock.
        assert (
            await client.post("/api/v1/auth/password/forgot", json={"email": locked_email})
        ).status_code == 202
        token = mail.last_to(locked_email).token()
        reset = await client.post(
            "/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 204
        assert (await login(client, locked_email, NEW_PASSWORD)).status_code == 200


class CountingHasher:
    """The real hasher, counting the password checks it performs."""

    def __init__(self, inner: PasswordHasher) -> None:
        self._inner = inner
        self.verified = 0

    async def hash(self, password: str) -> str:
        return await self._inner.hash(password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        self.verified += 1
        return await self._inner.verify(password, password_hash)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_concurrent_guesses_never_outrun_the_throttle(make_client: ClientFactory, store: str) -> None:
    """30 wrong guesses at once against a quota of 10: 10 are checked, 20 refused unhashed."""
    email = "guessed@example.com"
    async with make_client(
        rate_limit_login_failures_per_account="10 per 15 minutes",
        rate_limit_login="1000/minute",
        **store_settings(store),
    ) as client:
        await make_user(client, email)
        app: Any = client.app  # type: ignore[attr-defined]
        hasher = CountingHasher(app.state.services.password_hasher)
        app.state.services.password_hasher = hasher
        responses = await asyncio.gather(
            *(login(client, email, f"wrong guess number {index:03d}") for index in range(30))
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [400] * 10 + [429] * 20
        assert hasher.verified == 10
        assert (await login(client, email)).status_code == 429  # even the right password, now


async def test_a_correct_password_forgives_the_accounts_earlier_attempts(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_login_failures_per_account="3 per 15 minutes") as client:
        await make_user(client, "forgiven@example.com")
        for _ in range(2):
            assert (await login(client, "forgiven@example.com", "wrong password 123456")).status_code == 400
        assert (await login(client, "forgiven@example.com")).status_code == 200
        for _ in range(2):  # the count started again: two more mistakes are still checked
            assert (await login(client, "forgiven@example.com", "wrong password 123456")).status_code == 400
        assert (await login(client, "forgiven@example.com")).status_code == 200


async def test_a_wrong_current_password_counts_against_the_account(make_client: ClientFactory) -> None:
    """A stolen session must not become an unthrottled oracle for the password."""
    async with make_client(rate_limit_login_failures_per_account="3 per 15 minutes") as client:
        tokens = await account_with_tokens(client, "oracle@example.com")
        headers = bearer(tokens["access_token"])
        for index in range(3):
            wrong = await client.post(
                "/api/v1/users/me/password",
                json={"current_password": f"not it {index} 123456", "new_password": NEW_PASSWORD},
                headers=headers,
            )
            assert wrong.status_code == 422
        refused = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert refused.status_code == 429
        assert (await login(client, "oracle@example.com")).status_code == 429  # same account count


async def test_per_ip_failures_are_throttled_separately(make_client: ClientFactory, mail: MailSink) -> None:
    async with make_client(
        rate_limit_login_failures_per_ip="4 per 15 minutes", client_address=("198.51.100.7", 1)
    ) as attacker:
        for index in range(4):
            await login(attacker, f"victim{index}@example.com", "wrong password 123456")
        assert (await login(attacker, "another@example.com", "wrong password 123456")).status_code == 429


async def test_wrong_current_passwords_count_against_the_client_network(make_client: ClientFactory) -> None:
    async with make_client(
        rate_limit_login_failures_per_ip="3 per 15 minutes", client_address=("198.51.100.9", 1)
    ) as client:
        headers = bearer((await account_with_tokens(client, "guesser@example.com"))["access_token"])
        for index in range(3):  # the network's quota of three checks, spent on this account
            wrong = await client.post(
                "/api/v1/users/me/password",
                json={"current_password": f"not it {index} 123456", "new_password": NEW_PASSWORD},
                headers=headers,
            )
            assert wrong.status_code == 422
        assert (await login(client, "someone.else@example.com", "wrong password 123456")).status_code == 429


async def test_change_password_needs_the_current_one_and_signs_out_others(client: httpx.AsyncClient) -> None:
    tokens = await account_with_tokens(client, "change@example.com")
    other = (await login(client, "change@example.com")).json()
    headers = bearer(tokens["access_token"])
    wrong = await client.post(
        "/api/v1/users/me/password",
        headers=headers,
        json={"current_password": "nope nope nope", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["body", "current_password"]
    assert wrong.json()["errors"][0]["type"] == "invalid_password"  # what a client branches on
    weak = await client.post(
        "/api/v1/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    ok = await client.post(
        "/api/v1/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert ok.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200  # this session stays
    assert (await client.get("/api/v1/users/me", headers=bearer(other["access_token"]))).status_code == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert refreshed.status_code == 400
    assert (await login(client, "change@example.com", NEW_PASSWORD)).status_code == 200


async def test_change_password_can_keep_other_sessions(client: httpx.AsyncClient) -> None:
    tokens = await account_with_tokens(client, "keep@example.com")
    other = (await login(client, "keep@example.com")).json()
    response = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "sign_out_other_sessions": False},
    )
    assert response.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=bearer(other["access_token"]))).status_code == 200


async def test_hashes_are_salted_and_rehashed_when_parameters_rise(
    make_client: ClientFactory, mail: MailSink, database_url: str
) -> None:
    async with make_client() as client:
        await verified_account(client, mail, "one@example.com")
        await verified_account(client, mail, "two@example.com")
    first, second = (
        await stored_hash(database_url, "one@example.com"),
        await stored_hash(database_url, "two@example.com"),
    )
    assert first.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert first != second  # same password, different salts
    async with make_client(password_hash_memory_kib=24_576, password_hash_time_cost=3) as client:
        assert (await login(client, "one@example.com")).status_code == 200
    upgraded = await stored_hash(database_url, "one@example.com")
    assert upgraded.startswith("$argon2id$v=19$m=24576,t=3,p=1$")


async def test_no_database_connection_is_held_while_hashing(
    make_client: ClientFactory, mail: MailSink
) -> None:
    """Every route that hashes, signed in by bearer token and by browser cookie: 0 pooled
    connections checked out while argon2 runs (it takes a hundred milliseconds or more)."""
    async with make_client(base_url="https://testserver") as client:
        app = client.app  # type: ignore[attr-defined]
        await make_user(client, "pool@example.com")
        await make_user(client, "cookie@example.com")
        hasher: PasswordHasher = app.state.services.password_hasher
        pool = app.state.services.database.engine.pool
        checked_out: dict[str, list[int]] = {}
        current = "setup"
        original_verify, original_hash = hasher.verify, hasher.hash

        async def verify_spy(password: str, password_hash: str | None) -> tuple[bool, str | None]:
            checked_out.setdefault(current, []).append(pool.checkedout())
            return await original_verify(password, password_hash)

        async def hash_spy(password: str) -> str:
            checked_out.setdefault(current, []).append(pool.checkedout())
            return await original_hash(password)

        hasher.verify = verify_spy  # type: ignore[method-assign]
        hasher.hash = hash_spy  # type: ignore[method-assign]
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

        current = "token sign-in"
        tokens = (await login(client, "pool@example.com")).json()
        current = "password change, bearer"
        changed = await client.post(
            "/api/v1/users/me/password", headers=bearer(tokens["access_token"]), json=change
        )
        assert changed.status_code == 204
        current = "browser sign-in"
        browser = await client.post(
            "/api/v1/auth/session", json={"email": "cookie@example.com", "password": PASSWORD}
        )
        assert browser.status_code == 201
        current = "password change, cookie"
        changed = await client.post(
            "/api/v1/users/me/password", headers={"X-CSRF-Token": browser.json()["csrf_token"]}, json=change
        )
        assert changed.status_code == 204
        current = "reset"
        await client.post("/api/v1/auth/password/forgot", json={"email": "pool@example.com"})
        reset = await client.post(
            "/api/v1/auth/password/reset",
            json={
                "token": mail.last_to("pool@example.com").token(),
                "new_password": "yet another passphrase 1",
            },
        )
        assert reset.status_code == 204
        current = "sign-up"
        body = {
            "email": "new@example.com",
            "password": NEW_PASSWORD,
            "full_name": "N",
            "organization_name": "O",
        }
        assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 202

    assert checked_out == {
        "token sign-in": [0],
        "password change, bearer": [0, 0],  # the current password, then the new one
        "browser sign-in": [0],
        "password change, cookie": [0, 0],
        "reset": [0],
        "sign-up": [0],
    }


async def test_new_password_must_differ(client: httpx.AsyncClient) -> None:
    tokens = await account_with_tokens(client, "same-again@example.com")
    response = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": PASSWORD},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "password_unchanged"


async def test_long_passwords_are_never_truncated(client: httpx.AsyncClient) -> None:
    """bcrypt would stop reading at 72 bytes; every character of ours counts."""
    long_password = "passphrase " * 9 + "ending"  # 105 characters
    await make_user(client, "long@example.com", password=long_password)
    assert (await login(client, "long@example.com", long_password[:72])).status_code == 400
    assert (await login(client, "long@example.com", long_password[:-1] + "X")).status_code == 400
    assert (await login(client, "long@example.com", long_password)).status_code == 200


async def test_control_characters_in_the_username_are_refused_not_a_database_error(
    client: httpx.AsyncClient,
) -> None:
    """PostgreSQL refuses NUL in text: it must never get that far (found by the API fuzzer)."""
    for username in ("nul\x00@example.com", "line\nbreak@example.com"):
        response = await login(client, username, PASSWORD)
        assert response.status_code == 400, response.text  # RFC 6749 `invalid_request`
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["body", "username"]
