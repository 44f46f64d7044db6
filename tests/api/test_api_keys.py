"""/orgs/{org_id}/api-keys: shown once, stored hashed, scoped, bound to one organization, revocable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.permissions import Role
from tests.conftest import ClientFactory
from tests.support.accounts import bearer
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def create_key(
    client: httpx.AsyncClient, acme: Tenant, scopes: list[str], *, role: Role = Role.ADMIN, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        acme.path("/api-keys"), headers=acme.auth[role], json={"name": "sync", "scopes": scopes, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_rows(database_url: str) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(text("SELECT * FROM api_keys")))
    finally:
        await engine.dispose()


async def test_the_secret_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    created = await create_key(client, acme, ["invoices:read", "members:read"])
    secret = created["secret"]
    assert secret.startswith("ik_")
    assert len(secret) >= 3 + 43  # 256 bits, base64url
    assert created["prefix"] == secret[:11]
    assert created["scopes"] == ["invoices:read", "members:read"]
    assert created["created_by"] == str(acme.ids[Role.ADMIN])
    listed = (await client.get(acme.path("/api-keys"), headers=acme.auth[Role.ADMIN])).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]
    [row] = await stored_rows(database_url)
    assert secret not in str(tuple(row))
    assert row.secret_hash != secret
    assert len(row.secret_hash) == 64


async def test_a_key_acts_in_its_organization_within_its_scopes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    key = bearer((await create_key(client, acme, ["members:read"]))["secret"])
    members = await client.get(acme.path("/members"), headers=key)
    assert members.status_code == 200
    assert members.json()["total"] == 5
    organization = (await client.get(acme.path(), headers=key)).json()
    assert organization["role"] is None
    # Beyond its scopes: 403, though its creator (an admin) could.
    refused = await client.patch(
        acme.path(f"/members/{acme.ids[Role.VIEWER]}"), headers=key, json={"role": "member"}
    )
    assert refused.status_code == 403
    assert (await client.get(acme.path("/api-keys"), headers=key)).status_code == 403


async def test_a_key_never_acts_elsewhere(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = bearer((await create_key(client, acme, ["members:read"]))["secret"])
    foreign = await client.get(f"/api/v1/orgs/{acme.outsider_org_id}/members", headers=key)
    missing = await client.get(f"/api/v1/orgs/{uuid.uuid4()}/members", headers=key)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == missing.json()["detail"]
    for path in ("/api/v1/users/me", "/api/v1/orgs", "/api/v1/auth/sessions"):
        refused = await client.get(path, headers=key)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "api_key_not_allowed"


@pytest.mark.parametrize(
    ("caller", "scopes"),
    [
        (Role.ADMIN, ["org:manage"]),
        (Role.ADMIN, ["members:read", "org:manage"]),
        (Role.OWNER, ["org:manage"]),
    ],
)
async def test_a_key_never_holds_more_than_its_creator_or_org_manage(
    client: httpx.AsyncClient, acme: Tenant, caller: Role, scopes: list[str]
) -> None:
    refused = await client.post(
        acme.path("/api-keys"), headers=acme.auth[caller], json={"name": "too much", "scopes": scopes}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["type"] == "scope_not_grantable"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["invoices:everything"]},
        {"name": "x", "scopes": ["members:read"] * 100},
        {"name": "", "scopes": ["members:read"]},
        {"name": "x" * 101, "scopes": ["members:read"]},
        {"name": "line\nbreak", "scopes": ["members:read"]},
        {"name": "x", "scopes": "members:read"},
        {"name": "x", "scopes": ["members:read"], "org_id": str(uuid.uuid4())},
        {"name": "x", "scopes": ["members:read"], "expires_at": "2030-01-01T00:00:00"},
        {"name": "x", "scopes": ["members:read"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["members:read"], "expires_at": "2999-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["members:read"], "expires_at": "not a date"},
    ],
    ids=[
        "no-scopes",
        "unknown-scope",
        "too-many",
        "empty-name",
        "long-name",
        "multiline-name",
        "scopes-not-a-list",
        "org_id",
        "naive-expiry",
        "past-expiry",
        "far-expiry",
        "bad-expiry",
    ],
)
async def test_bad_keys_are_422_and_nothing_is_created(
    client: httpx.AsyncClient, acme: Tenant, database_url: str, body: dict[str, Any]
) -> None:
    refused = await client.post(acme.path("/api-keys"), headers=acme.auth[Role.ADMIN], json=body)
    assert refused.status_code == 422
    assert await stored_rows(database_url) == []


async def test_only_managers_create_list_and_revoke(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await create_key(client, acme, ["members:read"])
    for role in (Role.ACCOUNTANT, Role.MEMBER, Role.VIEWER):
        assert (await client.get(acme.path("/api-keys"), headers=acme.auth[role])).status_code == 403
        assert (
            await client.delete(acme.path(f"/api-keys/{key['id']}"), headers=acme.auth[role])
        ).status_code == 403
    assert (await client.get(acme.path("/api-keys"), headers=acme.outsider)).status_code == 404


async def test_revoking_takes_effect_on_the_very_next_request(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await create_key(client, acme, ["members:read"])
    key = bearer(created["secret"])
    assert (await client.get(acme.path("/members"), headers=key)).status_code == 200
    revoked = await client.delete(acme.path(f"/api-keys/{created['id']}"), headers=acme.auth[Role.OWNER])
    assert revoked.status_code == 204
    refused = await client.get(acme.path("/members"), headers=key)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    again = await client.delete(acme.path(f"/api-keys/{created['id']}"), headers=acme.auth[Role.OWNER])
    assert again.status_code == 404
    assert (await client.get(acme.path("/api-keys"), headers=acme.auth[Role.OWNER])).json()["total"] == 0


async def test_another_organizations_key_is_a_404_to_revoke(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create_key(client, acme, ["members:read"])
    foreign = await client.delete(
        f"/api/v1/orgs/{acme.outsider_org_id}/api-keys/{created['id']}", headers=acme.outsider
    )
    assert foreign.status_code == 404
    assert (await client.get(acme.path("/members"), headers=bearer(created["secret"]))).status_code == 200


async def test_an_expired_key_is_refused(client: httpx.AsyncClient, acme: Tenant, database_url: str) -> None:
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    created = await create_key(client, acme, ["members:read"], expires_at=soon)
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_keys SET expires_at = :past"), {"past": datetime.now(UTC) - timedelta(seconds=1)}
        )
    await engine.dispose()
    assert (await client.get(acme.path("/members"), headers=bearer(created["secret"]))).status_code == 401


async def test_unknown_and_malformed_keys_are_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    for secret in ("ik_" + "A" * 43, "ik_", "ik_" + "x" * 5000, "ik_' OR 1=1 --"):
        refused = await client.get(acme.path("/members"), headers=bearer(secret))
        assert refused.status_code == 401, secret[:10]


async def test_last_use_is_written_once_a_minute_at_most(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    created = await create_key(client, acme, ["members:read"])
    assert created["last_used_at"] is None
    key = bearer(created["secret"])
    statuses: list[int] = []

    async def use() -> None:
        statuses.append((await client.get(acme.path("/members"), headers=key)).status_code)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(use)
    assert statuses == [200] * 5
    [row] = await stored_rows(database_url)
    assert row.last_used_at is not None
    first_use = row.last_used_at
    await client.get(acme.path("/members"), headers=key)
    [row] = await stored_rows(database_url)
    assert row.last_used_at == first_use  # within the minute: not written again


async def test_an_organization_has_a_bounded_number_of_keys(make_client: ClientFactory) -> None:
    async with make_client(max_api_keys_per_org=2) as client:
        acme = await make_tenant(client)
        for _ in range(2):
            await create_key(client, acme, ["members:read"])
        refused = await client.post(
            acme.path("/api-keys"),
            headers=acme.auth[Role.ADMIN],
            json={"name": "third", "scopes": ["members:read"]},
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "api_key_limit"
