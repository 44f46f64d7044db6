"""An off-the-shelf OAuth2 client (authlib) signs in and reads every refusal as an OAuth2 error.

RFC 6749 §5.2: a failed password grant is 400 `invalid_grant`; the problem document carries the
`error` member alongside its own `code`, so neither kind of client has to guess.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

from tests.conftest import ClientFactory
from tests.support import observed_statuses
from tests.support.accounts import PASSWORD, verified_account
from tests.support.jobs import settling_hooks
from tests.support.smtp import MailSink

with warnings.catch_warnings():
    # authlib 1.9 announces its move to the httpx2 package on import (its module turned its own
    # warnings to "always"); the httpx client works the same.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]

pytestmark = pytest.mark.anyio

TOKEN_URL = "http://testserver/api/v1/auth/token"


def oauth_client(client: httpx.AsyncClient) -> AsyncOAuth2Client:
    app: Any = client.app  # type: ignore[attr-defined]
    return AsyncOAuth2Client(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        event_hooks={"response": [observed_statuses.record, *settling_hooks(app)["response"]]},
    )


@pytest.fixture
async def oauth(client: httpx.AsyncClient) -> AsyncIterator[AsyncOAuth2Client]:
    async with oauth_client(client) as oauth:
        yield oauth


async def fetch_error(oauth: AsyncOAuth2Client, **grant: str) -> OAuthError:
    with pytest.raises(OAuthError) as refused:
        await oauth.fetch_token(TOKEN_URL, **grant)
    return refused.value


async def test_a_wrong_password_is_invalid_grant_and_the_right_one_a_token(
    oauth: AsyncOAuth2Client, client: httpx.AsyncClient, mail: MailSink
) -> None:
    await verified_account(client, mail, "oauth@example.com")
    wrong = await fetch_error(oauth, username="oauth@example.com", password="not the password at all")
    unknown = await fetch_error(oauth, username="nobody@example.com", password=PASSWORD)
    assert (wrong.error, unknown.error) == ("invalid_grant", "invalid_grant")
    assert wrong.description == unknown.description == "The email or password is incorrect."

    token = await oauth.fetch_token(TOKEN_URL, username="oauth@example.com", password=PASSWORD)
    assert token["token_type"] == "bearer"
    assert token["expires_in"] > 0
    me = await oauth.get("/api/v1/users/me")  # the client sends the token it just got
    assert me.status_code == 200
    assert me.json()["email"] == "oauth@example.com"


async def test_malformed_requests_and_other_grants_are_named(oauth: AsyncOAuth2Client) -> None:
    missing = await fetch_error(oauth, username="oauth@example.com", password="")
    other = await fetch_error(oauth, grant_type="client_credentials")
    assert missing.error == "invalid_request"
    assert other.error == "unsupported_grant_type"


async def test_a_locked_out_sign_in_is_an_error_too_not_a_token(make_client: ClientFactory) -> None:
    """A 429 without `error` would be taken for a token by clients that read any JSON object."""
    async with make_client(rate_limit_login="1/minute") as client, oauth_client(client) as oauth:
        await fetch_error(oauth, username="who@example.com", password="a wrong password")
        limited = await fetch_error(oauth, username="who@example.com", password="a wrong password")
    assert limited.error == "temporarily_unavailable"
    assert limited.description is not None
    assert "Rate limit" in limited.description
