"""An organization with one member per role, and an outsider: the cast of the tenancy tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.permissions import Role
from app.models import Membership, Organization, User
from app.models.base import new_id
from tests.support.accounts import bearer
from tests.support.factories import free_slug, session_rows, user_row, write_rows


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
    """The cast, written in one transaction (a dozen rows), signed in without requests."""
    base = name.lower()
    owner = user_row(f"owner@{base}.example.com")
    members: dict[Role, User] = {
        role: user_row(f"{role.value}@{base}.example.com") for role in Role if role is not Role.OWNER
    }
    outsider = user_row(f"owner@other-{base}.example.com")
    organization = Organization(id=new_id(), name=name, slug=await free_slug(client, name))
    elsewhere = Organization(id=new_id(), name=f"Not {name}", slug=await free_slug(client, f"Not {name}"))
    people: dict[Role, User] = {Role.OWNER: owner, **members}
    rows: list[Any] = [*people.values(), outsider, organization, elsewhere]
    rows += [Membership(user_id=user.id, org_id=organization.id, role=role) for role, user in people.items()]
    rows.append(Membership(user_id=outsider.id, org_id=elsewhere.id, role=Role.OWNER))
    auth: dict[Role, dict[str, str]] = {}
    for role, user in people.items():
        session, body = session_rows(client, user.id)
        rows += session
        auth[role] = bearer(body["access_token"])
    outsider_session, outsider_body = session_rows(client, outsider.id)
    rows += outsider_session
    await write_rows(client, rows)
    return Tenant(
        org_id=organization.id,
        slug=organization.slug,
        ids={role: user.id for role, user in people.items()},
        auth=auth,
        outsider_id=outsider.id,
        outsider_org_id=elsewhere.id,
        outsider=bearer(outsider_body["access_token"]),
    )
