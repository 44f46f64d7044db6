"""Platform administration: deactivating a user ends every session at once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import User
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, bearer, login
from tests.support.admin import deactivate_url, grant_platform_admin, reactivate_url
from tests.support.factories import account_with_tokens, make_user, signed_in
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

ME = "/api/v1/users/me"


async def user_row(database_url: str, email: str) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return (
                await connection.execute(
                    select(User.id, User.is_active, User.is_platform_admin).where(User.email == email)
                )
            ).one()
    finally:
        await engine.dispose()


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """Over https, so the browser session's `Secure` cookie is sent back."""
    async with make_client(base_url="https://testserver") as client:
        yield client


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    """An account made a platform administrator by the CLI, as the first one is bootstrapped."""
    operator = await make_user(client, "operator@example.com")
    result = await grant_platform_admin(database_url, "Operator@Example.com")
    assert result.exit_code == 0, result.output
    assert "is now a platform administrator" in result.output
    return bearer((await signed_in(client, operator))["access_token"])


async def test_deactivating_a_user_ends_every_session_at_once(
    client: httpx.AsyncClient, database_url: str, admin_headers: dict[str, str]
) -> None:
    tokens = await account_with_tokens(client, "leaver@example.com")
    browser = await client.post(
        "/api/v1/auth/session", json={"email": "leaver@example.com", "password": PASSWORD}
    )
    assert browser.status_code == 201
    assert (await client.get(ME)).status_code == 200  # signed in by the cookie alone
    user = await user_row(database_url, "leaver@example.com")

    response = await client.post(deactivate_url(user.id), headers=admin_headers)
    assert response.status_code == 204

    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 401
    assert (await client.get(ME)).status_code == 401  # the browser cookie's session too
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400
    refused = await login(client, "leaver@example.com")
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_credentials"  # the same answer as a wrong password
    assert (await user_row(database_url, "leaver@example.com")).is_active is False
    # Idempotent.
    assert (await client.post(deactivate_url(user.id), headers=admin_headers)).status_code == 204

    assert (await client.post(reactivate_url(user.id), headers=admin_headers)).status_code == 204
    assert (await login(client, "leaver@example.com")).status_code == 200
    # What the deactivation ended stays ended.
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 400


async def test_a_deactivated_user_gets_no_password_reset_email(
    client: httpx.AsyncClient, mail: MailSink, database_url: str, admin_headers: dict[str, str]
) -> None:
    await make_user(client, "quiet@example.com")
    user = await user_row(database_url, "quiet@example.com")
    assert (await client.post(deactivate_url(user.id), headers=admin_headers)).status_code == 204
    mail.clear()
    forgot = await client.post("/api/v1/auth/password/forgot", json={"email": "quiet@example.com"})
    assert forgot.status_code == 202
    assert mail.to("quiet@example.com") == []


async def test_only_platform_admins_may_deactivate(client: httpx.AsyncClient, database_url: str) -> None:
    owner = await account_with_tokens(client, "tenant-owner@example.com")
    victim = await account_with_tokens(client, "victim@example.com")
    victim_id = (await user_row(database_url, "victim@example.com")).id
    for url in (deactivate_url(victim_id), reactivate_url(victim_id)):
        response = await client.post(url, headers=bearer(owner["access_token"]))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "permission_denied"
    assert (await client.post(deactivate_url(victim_id))).status_code == 401
    # Nothing changed.
    assert (await client.get(ME, headers=bearer(victim["access_token"]))).status_code == 200
    assert (await user_row(database_url, "victim@example.com")).is_active is True


async def test_withdrawn_admin_flag_takes_effect_on_the_next_request(
    client: httpx.AsyncClient, database_url: str, admin_headers: dict[str, str]
) -> None:
    await make_user(client, "target@example.com")
    target_id = (await user_row(database_url, "target@example.com")).id
    result = await grant_platform_admin(database_url, "operator@example.com", revoke=True)
    assert result.exit_code == 0, result.output
    assert (await client.post(deactivate_url(target_id), headers=admin_headers)).status_code == 403


async def test_admins_cannot_deactivate_themselves_and_bad_ids_change_nothing(
    client: httpx.AsyncClient, database_url: str, admin_headers: dict[str, str]
) -> None:
    operator = await user_row(database_url, "operator@example.com")
    own = await client.post(deactivate_url(operator.id), headers=admin_headers)
    assert own.status_code == 409
    assert own.json()["code"] == "conflict"
    assert (await client.post(deactivate_url(uuid.uuid4()), headers=admin_headers)).status_code == 404
    for hostile in ("not-a-uuid", "1 OR 1=1", "%00", "9" * 500):
        response = await client.post(deactivate_url(hostile), headers=admin_headers)
        assert response.status_code in (404, 422), hostile
        assert response.headers["content-type"] == "application/problem+json"
    still = await user_row(database_url, "operator@example.com")
    assert still.is_active is True
    assert (await client.get(ME, headers=admin_headers)).status_code == 200


async def test_granting_to_an_unknown_address_fails_loudly(database_url: str) -> None:
    result = await grant_platform_admin(database_url, "nobody@example.com")
    assert result.exit_code == 1
    assert "No account with the address nobody@example.com" in result.output
