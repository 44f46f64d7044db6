"""/orgs: the organizations a user belongs to; create, read, rename, delete (softly)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.permissions import Role
from tests.conftest import ClientFactory
from tests.support.accounts import bearer
from tests.support.factories import account_with_tokens
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def test_the_creator_owns_a_new_organization(client: httpx.AsyncClient) -> None:
    auth = bearer(
        (await account_with_tokens(client, "founder@example.com", organization=None))["access_token"]
    )
    created = await client.post("/api/v1/orgs", headers=auth, json={"name": "Ünïcode Widgets"})
    assert created.status_code == 201
    body = created.json()
    assert body["role"] == "owner"
    assert body["slug"] == "unicode-widgets"
    assert created.headers["location"] == f"/api/v1/orgs/{body['id']}"
    listed = (await client.get("/api/v1/orgs", headers=auth)).json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert (listed["total"], listed["limit"], listed["offset"]) == (1, 50, 0)
    # A second one with the same name gets its own slug.
    again = (await client.post("/api/v1/orgs", headers=auth, json={"name": "Ünïcode Widgets"})).json()
    assert again["slug"].startswith("unicode-widgets-")
    assert again["slug"] != body["slug"]


async def test_an_account_belongs_to_a_bounded_number_of_organizations(make_client: ClientFactory) -> None:
    async with make_client(max_organizations_per_user=2) as client:
        auth = bearer((await account_with_tokens(client, "busy@example.com"))["access_token"])
        assert (await client.post("/api/v1/orgs", headers=auth, json={"name": "Second"})).status_code == 201
        refused = await client.post("/api/v1/orgs", headers=auth, json={"name": "Third"})
        assert refused.status_code == 409
        assert refused.json()["code"] == "organization_limit"
        assert (await client.get("/api/v1/orgs", headers=auth)).json()["total"] == 2


async def test_lists_show_only_ones_own_organizations(client: httpx.AsyncClient, acme: Tenant) -> None:
    for role in Role:
        listed = (await client.get("/api/v1/orgs", headers=acme.auth[role])).json()
        assert [(item["id"], item["role"]) for item in listed["items"]] == [(str(acme.org_id), role.value)]
    outsider = (await client.get("/api/v1/orgs", headers=acme.outsider)).json()
    assert [item["id"] for item in outsider["items"]] == [str(acme.outsider_org_id)]


async def test_an_organization_one_does_not_belong_to_is_a_404_like_a_missing_one(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    foreign = await client.get(acme.path(), headers=acme.outsider)
    missing = await client.get(f"/api/v1/orgs/{uuid.uuid4()}", headers=acme.outsider)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"] == "not_found"
    assert foreign.json()["detail"] == missing.json()["detail"]
    assert set(foreign.json()) == set(missing.json())


async def test_only_owners_rename_and_only_the_name_changes(client: httpx.AsyncClient, acme: Tenant) -> None:
    assert (
        await client.patch(acme.path(), headers=acme.auth[Role.ADMIN], json={"name": "X"})
    ).status_code == 403
    renamed = await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json={"name": "Acme Holdings"})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["slug"]) == ("Acme Holdings", acme.slug)
    assert (await client.get(acme.path(), headers=acme.auth[Role.VIEWER])).json()["name"] == "Acme Holdings"


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "nul\u0000byte"},
        {"name": "right-to-left \u202e override"},
        {"name": "Acme", "slug": "hijacked"},
        {"name": "Acme", "id": str(uuid.uuid4())},
        {"role": "owner"},
        {"org_id": str(uuid.uuid4())},
        ["name"],
        "Acme",
    ],
    ids=[
        "null",
        "empty",
        "too-long",
        "nul",
        "bidi",
        "slug",
        "id",
        "own-role",
        "org_id",
        "array",
        "string",
    ],
)
async def test_a_bad_rename_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, body: Any
) -> None:
    before = (await client.get(acme.path(), headers=acme.auth[Role.OWNER])).json()
    refused = await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(acme.path(), headers=acme.auth[Role.OWNER])).json() == before


async def test_creating_refuses_hostile_names(client: httpx.AsyncClient) -> None:
    auth = bearer(
        (await account_with_tokens(client, "founder@example.com", organization=None))["access_token"]
    )
    for body in ({"name": "a\u2028b"}, {"name": "x" * 10_000}, {}, {"name": 42}):
        refused = await client.post("/api/v1/orgs", headers=auth, json=body)
        assert refused.status_code == 422, body
    assert (await client.get("/api/v1/orgs", headers=auth)).json()["total"] == 0


async def test_deleting_needs_the_owner_and_the_slug(client: httpx.AsyncClient, acme: Tenant) -> None:
    admin = await client.delete(acme.path(), headers=acme.auth[Role.ADMIN], params={"confirm": acme.slug})
    assert admin.status_code == 403
    unconfirmed = await client.delete(acme.path(), headers=acme.auth[Role.OWNER])
    assert unconfirmed.status_code == 422
    wrong = await client.delete(acme.path(), headers=acme.auth[Role.OWNER], params={"confirm": "not-it"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["type"] == "confirmation_mismatch"
    assert (await client.get(acme.path(), headers=acme.auth[Role.VIEWER])).status_code == 200

    deleted = await client.delete(acme.path(), headers=acme.auth[Role.OWNER], params={"confirm": acme.slug})
    assert deleted.status_code == 204
    # Gone for every member at once, from lists too.
    for role in Role:
        assert (await client.get(acme.path(), headers=acme.auth[role])).status_code == 404
        assert (await client.get(acme.path("/members"), headers=acme.auth[role])).status_code == 404
        assert (await client.get("/api/v1/orgs", headers=acme.auth[role])).json()["items"] == []
