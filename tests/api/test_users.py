"""/users/me: read and partial update of one's own account; nothing else is writable."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.accounts import bearer
from tests.support.factories import account_with_tokens

pytestmark = pytest.mark.anyio


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    tokens = await account_with_tokens(client, "me@example.com")
    return bearer(tokens["access_token"])


async def test_me_shows_account_and_memberships(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = (await client.get("/api/v1/users/me", headers=auth)).json()
    assert body["email"] == "me@example.com"
    assert body["email_verified"] is True
    assert body["created_at"].endswith("Z")
    [membership] = body["memberships"]
    assert membership["role"] == "owner"
    assert membership["org_name"] == "Test Org"
    assert set(body) == {"id", "email", "full_name", "email_verified", "created_at", "memberships"}


async def test_patch_applies_only_the_fields_sent(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    unchanged = await client.patch("/api/v1/users/me", headers=auth, json={})
    assert unchanged.status_code == 200
    assert unchanged.json()["full_name"] == "Test User"
    changed = await client.patch("/api/v1/users/me", headers=auth, json={"full_name": "  New Name "})
    assert changed.json()["full_name"] == "New Name"
    assert (await client.get("/api/v1/users/me", headers=auth)).json()["full_name"] == "New Name"


@pytest.mark.parametrize(
    "body",
    [
        {"full_name": None},
        {"full_name": ""},
        {"full_name": "x" * 201},
        {"full_name": "nul\u0000byte"},
        {"full_name": "two\nlines"},
        {"email": "other@example.com"},
        {"is_platform_admin": True},
        {"password_hash": "$argon2id$..."},
        {"id": "00000000-0000-7000-8000-000000000000"},
        {"memberships": [{"role": "owner"}]},
    ],
)
async def test_patch_rejects_hostile_fields_and_changes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    before = (await client.get("/api/v1/users/me", headers=auth)).json()
    response = await client.patch("/api/v1/users/me", headers=auth, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/users/me", headers=auth)).json() == before


async def test_patch_with_malformed_body(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for content in (b"{", b"null", b'"string"', b"[1,2]"):
        response = await client.patch(
            "/api/v1/users/me", headers={**auth, "content-type": "application/json"}, content=content
        )
        assert response.status_code == 422, content
