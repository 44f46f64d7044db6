"""The permission matrix: every tenant operation by every caller, generated from the one table.

For each operation under `/orgs/{org_id}` the OpenAPI document names the permissions it needs
(`x-required-permissions`); `ROLE_PERMISSIONS` says which roles hold them. From the two, each
caller's expected answer follows: anonymous 401; a member of another organization, or a
removed member, 404 (they may not know the organization exists); a role without the permission
403; a role with it gets past authorization. Requests name objects that do not exist (or carry
a wrong confirmation), so a permitted caller changes nothing and the cast serves every case.

A second, hand-written table checks a sample of cells, so that a wrong permission table (or a
wrong `x-required-permissions`) cannot make its own tests pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.api.dependencies.tenancy import PERMISSIONS_EXTENSION
from app.core.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.support.accounts import bearer
from tests.support.factories import add_member, signed_in
from tests.support.tenant_calls import CALLS, TENANT_OPERATIONS
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

CALLERS = [
    *(role.value for role in Role),
    "key-with-scopes",
    "key-without",
    "outsider",
    "removed",
    "anonymous",
]
# The scopes of the two API keys: every permission a key may hold, and one that opens nothing here.
KEY_SCOPES = {
    "key-with-scopes": ROLE_PERMISSIONS[Role.OWNER] - {Permission.ORG_MANAGE},
    "key-without": frozenset({Permission.REPORTS_READ}),
}


def required(operation: dict[str, Any]) -> set[Permission]:
    return {Permission(name) for name in operation.get(PERMISSIONS_EXTENSION, [])}


def expected_status(operation: dict[str, Any], caller: str) -> int | None:
    """The status the caller must get, or None for "past authorization" (any non-401/403)."""
    if caller == "anonymous":
        return 401
    if caller in ("outsider", "removed"):
        return 404
    held = KEY_SCOPES[caller] if caller in KEY_SCOPES else ROLE_PERMISSIONS[Role(caller)]
    return None if required(operation) <= held else 403


@dataclass
class Cast:
    tenant: Tenant
    removed: dict[str, str]
    keys: dict[str, dict[str, str]]

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller in self.keys:
            return self.keys[caller]
        if caller == "outsider":
            return self.tenant.outsider
        if caller == "removed":
            return self.removed
        return self.tenant.auth[Role(caller)]


@pytest.fixture
async def cast(client: httpx.AsyncClient) -> Cast:
    tenant = await make_tenant(client)

    leaver = await add_member(client, org_id=tenant.org_id, email="gone@acme.example.com", role=Role.ADMIN)
    removed = bearer((await signed_in(client, leaver))["access_token"])
    response = await client.delete(
        f"/api/v1/orgs/{tenant.org_id}/members/{leaver.id}", headers=tenant.auth[Role.OWNER]
    )
    assert response.status_code == 204
    keys = {}
    for name, scopes in KEY_SCOPES.items():
        created = await client.post(
            f"/api/v1/orgs/{tenant.org_id}/api-keys",
            headers=tenant.auth[Role.OWNER],
            json={"name": name, "scopes": sorted(scopes)},
        )
        assert created.status_code == 201, created.text
        keys[name] = bearer(created.json()["secret"])
    return Cast(tenant=tenant, removed=removed, keys=keys)


async def call(client: httpx.AsyncClient, cast: Cast, method: str, path: str, caller: str) -> httpx.Response:
    spec = CALLS[(method, path)]
    url = path.format(org_id=cast.tenant.org_id, **spec.path_params)
    return await client.request(
        method,
        url,
        headers={**cast.headers(caller), **spec.headers},
        params=spec.params,
        json=spec.body if spec.body is not None else None,
    )


def test_every_tenant_operation_is_in_the_matrix() -> None:
    assert set(TENANT_OPERATIONS) == set(CALLS)
    # and each says which permission it needs, or is open to every member on purpose
    open_to_members = {key for key, operation in TENANT_OPERATIONS.items() if not required(operation)}
    assert open_to_members == {("GET", "/api/v1/orgs/{org_id}"), ("GET", "/api/v1/orgs/{org_id}/features")}


async def test_the_matrix(client: httpx.AsyncClient, cast: Cast) -> None:
    """Every caller on every operation (one test, so the cast is set up once per database)."""
    mismatches = []
    for caller in CALLERS:
        for (method, path), operation in sorted(TENANT_OPERATIONS.items()):
            response = await call(client, cast, method, path, caller)
            expected = expected_status(operation, caller)
            ok = response.status_code == expected if expected else response.status_code not in (401, 403)
            if expected == 404 or (expected is None and response.status_code == 404):
                # Past authorization, a 404 is about the missing object, never the organization.
                organization_hidden = response.json()["detail"] == "No such organization."
                ok = ok and organization_hidden == (expected == 404)
            if not ok:
                mismatches.append(
                    f"{caller} {method} {path}: {response.status_code} {response.text[:120]}, "
                    f"expected {expected or 'not 401/403'}"
                )
    assert mismatches == []


# A sample of cells written by hand, independent of ROLE_PERMISSIONS and the document.
HAND_WRITTEN = [
    ("viewer", "GET", "/api/v1/orgs/{org_id}/members", 200),
    ("viewer", "PATCH", "/api/v1/orgs/{org_id}/members/{user_id}", 403),
    ("member", "DELETE", "/api/v1/orgs/{org_id}/members/{user_id}", 403),
    ("accountant", "PATCH", "/api/v1/orgs/{org_id}/members/{user_id}", 403),
    ("admin", "PATCH", "/api/v1/orgs/{org_id}/members/{user_id}", 404),
    ("admin", "DELETE", "/api/v1/orgs/{org_id}", 403),
    ("admin", "PATCH", "/api/v1/orgs/{org_id}", 403),
    ("admin", "POST", "/api/v1/orgs/{org_id}/members/transfer-ownership", 403),
    ("owner", "DELETE", "/api/v1/orgs/{org_id}", 422),
    ("owner", "POST", "/api/v1/orgs/{org_id}/members/transfer-ownership", 404),
    ("outsider", "GET", "/api/v1/orgs/{org_id}", 404),
    ("removed", "GET", "/api/v1/orgs/{org_id}/members", 404),
    ("anonymous", "GET", "/api/v1/orgs/{org_id}", 401),
    ("member", "GET", "/api/v1/orgs/{org_id}/api-keys", 403),
    ("admin", "POST", "/api/v1/orgs/{org_id}/api-keys", 422),
    ("key-with-scopes", "GET", "/api/v1/orgs/{org_id}/members", 200),
    ("key-with-scopes", "DELETE", "/api/v1/orgs/{org_id}", 403),
    ("key-without", "GET", "/api/v1/orgs/{org_id}/members", 403),
    ("key-without", "GET", "/api/v1/orgs/{org_id}", 200),
    ("accountant", "GET", "/api/v1/orgs/{org_id}/audit-log", 403),
    ("admin", "GET", "/api/v1/orgs/{org_id}/audit-log", 200),
    ("viewer", "GET", "/api/v1/orgs/{org_id}/events", 403),
    ("member", "GET", "/api/v1/orgs/{org_id}/events/{event_id}", 403),
    ("accountant", "GET", "/api/v1/orgs/{org_id}/events", 200),
    ("accountant", "GET", "/api/v1/orgs/{org_id}/events/{event_id}", 404),
]


async def test_hand_written_cells(client: httpx.AsyncClient, cast: Cast) -> None:
    seen = [
        (caller, method, path, (await call(client, cast, method, path, caller)).status_code)
        for caller, method, path, _status in HAND_WRITTEN
    ]
    assert seen == HAND_WRITTEN
