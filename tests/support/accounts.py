"""Account helpers that go through the public API, as a client would.

Sign-up, verification and sign-in over HTTP cost argon2 hashes and several requests: a test
that only needs an account or a caller uses tests/support/factories.py instead, and these
serve the tests of those flows.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.smtp import MailSink

PASSWORD = "correct horse battery staple 42"


async def signup(
    client: httpx.AsyncClient, email: str, *, password: str = PASSWORD, organization: str = "Test Org"
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/signup",
        json={
            "email": email,
            "password": password,
            "full_name": "Test User",
            "organization_name": organization,
        },
    )


async def verified_account(
    client: httpx.AsyncClient, mail: MailSink, email: str, *, password: str = PASSWORD
) -> None:
    response = await signup(client, email, password=password)
    assert response.status_code == 202, response.text
    token = mail.last_to(email.lower()).token()
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 204, verified.text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def tokens_for(
    client: httpx.AsyncClient, mail: MailSink, email: str, *, password: str = PASSWORD
) -> dict[str, Any]:
    await verified_account(client, mail, email, password=password)
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
