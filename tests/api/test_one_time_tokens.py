"""Emailed one-time tokens die with what they protect.

A reset link is good for one use, for its purpose only, until it expires, while the account is
active and still has the address it was sent to; a reset, a password change or a deactivation
ends every outstanding reset link of the account.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine

from app.models.base import utcnow
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, bearer, login, signup
from tests.support.admin import deactivate_url, operator_headers, reactivate_url
from tests.support.factories import account_with_tokens, make_user
from tests.support.rows import update_user
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

EMAIL = "tokens@example.com"
NEW_PASSWORD = "a whole new passphrase 2026"
RESET = "/api/v1/auth/password/reset"
VERIFY = "/api/v1/auth/verify-email"


async def reset_link(client: httpx.AsyncClient, mail: MailSink, email: str = EMAIL) -> str:
    assert (await client.post("/api/v1/auth/password/forgot", json={"email": email})).status_code == 202
    return mail.last_to(email).token()


async def reset(client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return await client.post(RESET, json={"token": token, "new_password": password})


def refused(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json()["code"] == "invalid_one_time_token"


@pytest.mark.parametrize("used_first", ["older", "newer"])
async def test_using_one_reset_link_ends_the_others(
    client: httpx.AsyncClient, mail: MailSink, used_first: str
) -> None:
    await make_user(client, EMAIL)
    older, newer = await reset_link(client, mail), await reset_link(client, mail)
    first, second = (older, newer) if used_first == "older" else (newer, older)
    assert (await reset(client, first)).status_code == 204
    assert refused(await reset(client, second, "yet another passphrase 99"))
    assert (await login(client, EMAIL, NEW_PASSWORD)).status_code == 200


async def test_a_password_change_ends_outstanding_reset_links(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    tokens = await account_with_tokens(client, EMAIL)
    link = await reset_link(client, mail)
    changed = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "sign_out_other_sessions": False},
        headers=bearer(tokens["access_token"]),
    )
    assert changed.status_code == 204
    assert refused(await reset(client, link, "what the thief wanted 123"))
    assert (await login(client, EMAIL, NEW_PASSWORD)).status_code == 200


async def test_deactivation_ends_reset_links_for_good(make_client: ClientFactory, mail: MailSink) -> None:
    async with make_client(base_url="https://testserver") as client:
        admin = await operator_headers(client)
        user_id = (await make_user(client, EMAIL)).id
        link = await reset_link(client, mail)

        assert (await client.post(deactivate_url(user_id), headers=admin)).status_code == 204
        assert refused(await reset(client, link))
        assert (await client.post(reactivate_url(user_id), headers=admin)).status_code == 204
        assert refused(await reset(client, link))  # reactivation does not revive it
        assert (await login(client, EMAIL)).status_code == 200  # the password is unchanged


async def test_a_link_of_a_deactivated_account_is_refused(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    """Even if the deactivation happened outside the API (no link-ending step ran)."""
    await make_user(client, EMAIL)
    link = await reset_link(client, mail)
    await update_user(database_url, EMAIL, is_active=False)
    assert refused(await reset(client, link))
    await update_user(database_url, EMAIL, is_active=True)
    assert (await reset(client, link)).status_code == 204


async def test_each_token_works_only_for_its_own_purpose(client: httpx.AsyncClient, mail: MailSink) -> None:
    assert (await signup(client, EMAIL)).status_code == 202
    verification = mail.last_to(EMAIL).token()
    # An unverified account can still ask for a reset link (following it verifies the address).
    link = await reset_link(client, mail)

    assert refused(await reset(client, verification))
    assert refused(await client.post(VERIFY, json={"token": link}))
    assert (await client.post(VERIFY, json={"token": verification})).status_code == 204
    assert (await reset(client, link)).status_code == 204


@pytest.mark.parametrize("purpose", ["verify", "reset"])
async def test_tokens_expire(make_client: ClientFactory, mail: MailSink, purpose: str) -> None:
    async with make_client(email_verification_ttl_seconds=600, password_reset_ttl_seconds=600) as client:
        assert (await signup(client, EMAIL)).status_code == 202
        token = mail.last_to(EMAIL).token() if purpose == "verify" else await reset_link(client, mail)

        async def send() -> httpx.Response:
            if purpose == "verify":
                return await client.post(VERIFY, json={"token": token})
            return await reset(client, token)

        with time_machine.travel(utcnow() + timedelta(seconds=601), tick=False):
            assert refused(await send())
        ok = await send()
        assert ok.status_code == 204


async def test_a_token_is_valid_only_while_the_account_has_its_address(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    """Tokens remember where they were sent: after an address change they are void."""
    assert (await signup(client, EMAIL)).status_code == 202
    verification = mail.last_to(EMAIL).token()
    link = await reset_link(client, mail)
    await update_user(database_url, EMAIL, email="moved@example.com")
    assert refused(await client.post(VERIFY, json={"token": verification}))
    assert refused(await reset(client, link))


async def test_a_reset_password_may_not_be_the_accounts_email(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    await make_user(client, EMAIL)
    link = await reset_link(client, mail)
    for same in (EMAIL, EMAIL.upper()):
        response = await reset(client, link, same)
        assert response.status_code == 422, same
        assert response.json()["errors"][0]["type"] == "password_policy"
    assert (await reset(client, link)).status_code == 204  # the refusals spent nothing
