"""An organization with one member per role, and an outsider: the cast of the tenancy tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from app.core.permissions import Role
from tests.support.accounts import bearer
from tests.support.factories import add_member, make_user, signed_in


@dataclass(frozen=True)
class Tenant:
    org_id: uuid.UUID
    slug: str
    # Per role: the member's user id and the headers of a signed-in bearer token.
    ids: dict[Role, uuid.UUID]
    auth: dict[Role, dict[str, str]]
    # The owner of another organization, and the headers of their token.
    outsider_id: uuid.UUID
    outsider_org_id: uuid.UUID
    outsider: dict[str, str]

    def path(self, rest: str = "") -> str:
        return f"/api/v1/orgs/{self.org_id}{rest}"


async def make_tenant(client: httpx.AsyncClient, name: str = "Acme") -> Tenant:
    slug_base = name.lower()
    owner = await make_user(client, f"owner@{slug_base}.example.com", organization=name)
    assert owner.org_id is not None
    ids = {Role.OWNER: owner.id}
    auth = {Role.OWNER: bearer((await signed_in(client, owner))["access_token"])}
    for role in (Role.ADMIN, Role.ACCOUNTANT, Role.MEMBER, Role.VIEWER):
        member = await add_member(
            client, org_id=owner.org_id, email=f"{role.value}@{slug_base}.example.com", role=role
        )
        ids[role] = member.id
        auth[role] = bearer((await signed_in(client, member))["access_token"])
    outsider = await make_user(client, f"owner@other-{slug_base}.example.com", organization=f"Not {name}")
    assert outsider.org_id is not None
    slug = (await client.get(f"/api/v1/orgs/{owner.org_id}", headers=auth[Role.OWNER])).json()["slug"]
    return Tenant(
        org_id=owner.org_id,
        slug=slug,
        ids=ids,
        auth=auth,
        outsider_id=outsider.id,
        outsider_org_id=outsider.org_id,
        outsider=bearer((await signed_in(client, outsider))["access_token"]),
    )
