"""/orgs/{org_id}/members: roles, removal, leaving, ownership; owners protected, never none."""

from __future__ import annotations

import uuid

import anyio
import httpx
import pytest

from app.core.permissions import Role
from tests.support.accounts import bearer
from tests.support.factories import add_member, signed_in
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def role_of(client: httpx.AsyncClient, acme: Tenant, user_id: uuid.UUID) -> str | None:
    response = await client.get(acme.path(f"/members/{user_id}"), headers=acme.auth[Role.OWNER])
    return response.json()["role"] if response.status_code == 200 else None


async def test_every_member_reads_the_list(client: httpx.AsyncClient, acme: Tenant) -> None:
    listed = (await client.get(acme.path("/members"), headers=acme.auth[Role.VIEWER])).json()
    assert listed["total"] == 5
    assert {(item["email"], item["role"]) for item in listed["items"]} == {
        (f"{role.value}@acme.example.com", role.value) for role in Role
    }
    assert set(listed["items"][0]) == {"user_id", "email", "full_name", "role"}
    page = (
        await client.get(
            acme.path("/members"), headers=acme.auth[Role.VIEWER], params={"limit": 2, "offset": 4}
        )
    ).json()
    assert (len(page["items"]), page["total"]) == (1, 5)
    assert (
        await client.get(acme.path("/members"), headers=acme.auth[Role.VIEWER], params={"limit": 201})
    ).status_code == 422


async def test_another_organizations_member_is_a_404_like_a_missing_one(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    foreign = await client.get(acme.path(f"/members/{acme.outsider_id}"), headers=acme.auth[Role.OWNER])
    missing = await client.get(acme.path(f"/members/{uuid.uuid4()}"), headers=acme.auth[Role.OWNER])
    assert foreign.status_code == missing.status_code == 404
    assert (foreign.json()["code"], foreign.json()["detail"]) == (
        missing.json()["code"],
        missing.json()["detail"],
    )
    # and the outsider cannot act through their own organization's path on Acme's members
    other = f"/api/v1/orgs/{acme.outsider_org_id}/members/{acme.ids[Role.VIEWER]}"
    assert (await client.patch(other, headers=acme.outsider, json={"role": "admin"})).status_code == 404
    assert (await client.delete(other, headers=acme.outsider)).status_code == 404
    assert await role_of(client, acme, acme.ids[Role.VIEWER]) == "viewer"


async def test_admins_manage_roles_below_owner(client: httpx.AsyncClient, acme: Tenant) -> None:
    promoted = await client.patch(
        acme.path(f"/members/{acme.ids[Role.VIEWER]}"),
        headers=acme.auth[Role.ADMIN],
        json={"role": "accountant"},
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "accountant"
    assert await role_of(client, acme, acme.ids[Role.VIEWER]) == "accountant"


@pytest.mark.parametrize(
    ("target", "role"),
    [(Role.OWNER, "admin"), (Role.MEMBER, "owner")],
    ids=["demote-an-owner", "make-an-owner"],
)
async def test_admins_never_touch_owners(
    client: httpx.AsyncClient, acme: Tenant, target: Role, role: str
) -> None:
    refused = await client.patch(
        acme.path(f"/members/{acme.ids[target]}"), headers=acme.auth[Role.ADMIN], json={"role": role}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "owner_protected"
    assert await role_of(client, acme, acme.ids[target]) == target.value
    removal = await client.delete(
        acme.path(f"/members/{acme.ids[Role.OWNER]}"), headers=acme.auth[Role.ADMIN]
    )
    assert removal.json()["code"] == "owner_protected"


@pytest.mark.parametrize("caller", [Role.ACCOUNTANT, Role.MEMBER, Role.VIEWER])
async def test_roles_without_members_manage_get_403(
    client: httpx.AsyncClient, acme: Tenant, caller: Role
) -> None:
    target = acme.path(f"/members/{acme.ids[Role.VIEWER]}")
    assert (await client.patch(target, headers=acme.auth[caller], json={"role": "admin"})).status_code == 403
    assert (await client.delete(target, headers=acme.auth[caller])).status_code == 403
    assert await role_of(client, acme, acme.ids[Role.VIEWER]) == "viewer"


async def test_nobody_raises_their_own_role(client: httpx.AsyncClient, acme: Tenant) -> None:
    refused = await client.patch(
        acme.path(f"/members/{acme.ids[Role.ADMIN]}"), headers=acme.auth[Role.ADMIN], json={"role": "owner"}
    )
    assert refused.status_code == 403
    assert await role_of(client, acme, acme.ids[Role.ADMIN]) == "admin"


@pytest.mark.parametrize(
    "body",
    [
        {"role": "superuser"},
        {"role": None},
        {},
        {"role": "admin", "org_id": str(uuid.uuid4())},
        {"role": "ADMIN"},
    ],
)
async def test_a_bad_role_change_is_a_422(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, object]
) -> None:
    refused = await client.patch(
        acme.path(f"/members/{acme.ids[Role.VIEWER]}"), headers=acme.auth[Role.OWNER], json=body
    )
    assert refused.status_code == 422
    assert await role_of(client, acme, acme.ids[Role.VIEWER]) == "viewer"


async def test_the_last_owner_can_neither_leave_nor_step_down(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = acme.ids[Role.OWNER]
    step_down = await client.patch(
        acme.path(f"/members/{owner}"), headers=acme.auth[Role.OWNER], json={"role": "admin"}
    )
    assert step_down.status_code == 409
    assert step_down.json()["code"] == "last_owner"
    leave = await client.delete(acme.path("/members/me"), headers=acme.auth[Role.OWNER])
    assert leave.json()["code"] == "last_owner"
    assert await role_of(client, acme, owner) == "owner"
    # With a second owner, the first may step down.
    await client.patch(
        acme.path(f"/members/{acme.ids[Role.ADMIN]}"), headers=acme.auth[Role.OWNER], json={"role": "owner"}
    )
    stepped = await client.patch(
        acme.path(f"/members/{owner}"), headers=acme.auth[Role.OWNER], json={"role": "admin"}
    )
    assert stepped.status_code == 200


async def test_any_member_may_leave(client: httpx.AsyncClient, acme: Tenant) -> None:
    assert (await client.delete(acme.path("/members/me"), headers=acme.auth[Role.VIEWER])).status_code == 204
    assert await role_of(client, acme, acme.ids[Role.VIEWER]) is None
    assert (await client.get(acme.path(), headers=acme.auth[Role.VIEWER])).status_code == 404


async def test_removal_takes_effect_on_the_very_next_request(client: httpx.AsyncClient, acme: Tenant) -> None:
    member = acme.auth[Role.ADMIN]
    assert (await client.get(acme.path("/members"), headers=member)).status_code == 200
    removed = await client.delete(
        acme.path(f"/members/{acme.ids[Role.ADMIN]}"), headers=acme.auth[Role.OWNER]
    )
    assert removed.status_code == 204
    # The same token: still signed in, no longer a member.
    assert (await client.get("/api/v1/users/me", headers=member)).status_code == 200
    assert (await client.get(acme.path("/members"), headers=member)).status_code == 404
    assert (
        await client.patch(
            acme.path(f"/members/{acme.ids[Role.VIEWER]}"), headers=member, json={"role": "admin"}
        )
    ).status_code == 404


async def test_a_lowered_role_takes_effect_on_the_very_next_request(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    admin = acme.auth[Role.ADMIN]
    target = acme.path(f"/members/{acme.ids[Role.VIEWER]}")
    assert (await client.patch(target, headers=admin, json={"role": "member"})).status_code == 200
    lowered = await client.patch(
        acme.path(f"/members/{acme.ids[Role.ADMIN]}"), headers=acme.auth[Role.OWNER], json={"role": "viewer"}
    )
    assert lowered.status_code == 200
    assert (await client.patch(target, headers=admin, json={"role": "viewer"})).status_code == 403


async def test_ownership_is_transferred(client: httpx.AsyncClient, acme: Tenant) -> None:
    body = {"user_id": str(acme.ids[Role.MEMBER])}
    assert (
        await client.post(acme.path("/members/transfer-ownership"), headers=acme.auth[Role.ADMIN], json=body)
    ).status_code == 403
    moved = await client.post(
        acme.path("/members/transfer-ownership"), headers=acme.auth[Role.OWNER], json=body
    )
    assert moved.status_code == 200
    assert await role_of(client, acme, acme.ids[Role.MEMBER]) == "owner"
    assert await role_of(client, acme, acme.ids[Role.OWNER]) == "admin"
    foreign = {"user_id": str(acme.outsider_id)}
    assert (
        await client.post(
            acme.path("/members/transfer-ownership"), headers=acme.auth[Role.MEMBER], json=foreign
        )
    ).status_code == 404


async def test_owners_stepping_down_at_once_always_leave_one_owner(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    owners = [(acme.ids[Role.OWNER], acme.auth[Role.OWNER])]
    for index in range(5):
        extra = await add_member(
            client, org_id=acme.org_id, email=f"owner{index}@acme.example.com", role=Role.OWNER
        )
        owners.append((extra.id, bearer((await signed_in(client, extra))["access_token"])))
    statuses: list[int] = []

    async def step_down(user_id: uuid.UUID, auth: dict[str, str]) -> None:
        response = await client.patch(acme.path(f"/members/{user_id}"), headers=auth, json={"role": "admin"})
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for user_id, auth in owners:
            group.start_soon(step_down, user_id, auth)
    remaining = [
        item
        for item in (await client.get(acme.path("/members"), headers=acme.auth[Role.VIEWER])).json()["items"]
        if item["role"] == "owner"
    ]
    assert len(remaining) == 1
    assert statuses.count(200) == len(owners) - 1
