"""Authenticated routes are limited per caller (user or API key), with per-route overrides, and
an organization's routes per organization too; shared by every replica in the full mode.

Quotas here are per hour: the sliding-window counter weighs the previous window's count, so a
test that straddled a minute boundary could see a quota refill partway through.
"""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.permissions import Role
from app.core.security.jwt import private_key_pem
from tests.conftest import REDIS_URL, ClientFactory
from tests.support.accounts import bearer
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.anyio


def policy_names(response: httpx.Response) -> list[str]:
    return [part.split(";")[0].strip().strip('"') for part in response.headers["ratelimit-policy"].split(",")]


async def test_each_caller_has_its_own_quota(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_api="3/hour") as client:
        acme = await make_tenant(client)
        me = acme.auth[Role.VIEWER]
        answers = [await client.get("/api/v1/users/me", headers=me) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["cache-control"] == "no-store"
        assert refused.headers["ratelimit"].startswith('"api";r=0;')
        # Another member, and this member's organization routes through another caller, are unaffected.
        assert (await client.get("/api/v1/users/me", headers=acme.auth[Role.MEMBER])).status_code == 200
        assert (await client.get(acme.path("/members"), headers=me)).status_code == 429


async def test_an_api_key_is_a_caller_of_its_own(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_api="4/hour") as client:
        acme = await make_tenant(client)
        created = await client.post(
            acme.path("/api-keys"),
            headers=acme.auth[Role.OWNER],
            json={"name": "k", "scopes": ["members:read"]},
        )
        key = bearer(created.json()["secret"])
        statuses = [(await client.get(acme.path("/members"), headers=key)).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
        # The owner made one call so far (the key's creation) and still has quota.
        assert (await client.get(acme.path("/members"), headers=acme.auth[Role.OWNER])).status_code == 200


async def test_an_organization_shares_one_quota_among_its_callers(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_api_org="5/hour") as client:
        acme = await make_tenant(client)
        statuses = [
            (await client.get(acme.path("/members"), headers=acme.auth[role])).status_code
            for role in (Role.OWNER, Role.ADMIN, Role.ACCOUNTANT, Role.MEMBER, Role.VIEWER, Role.OWNER)
        ]
        assert statuses == [200] * 5 + [429]
        last = await client.get(acme.path("/members"), headers=acme.auth[Role.ADMIN])
        assert last.json()["code"] == "rate_limited"
        assert policy_names(last) == ["api", "api_org"]
        # Routes outside the organization, and other organizations, are not counted against it.
        assert (await client.get("/api/v1/users/me", headers=acme.auth[Role.ADMIN])).status_code == 200
        other = f"/api/v1/orgs/{acme.outsider_org_id}/members"
        assert (await client.get(other, headers=acme.outsider)).status_code == 200


async def test_an_outsider_cannot_spend_an_organizations_quota(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_api_org="2/hour") as client:
        acme = await make_tenant(client)
        for _ in range(5):
            assert (await client.get(acme.path("/members"), headers=acme.outsider)).status_code == 404
        assert (await client.get(acme.path("/members"), headers=acme.auth[Role.VIEWER])).status_code == 200


async def test_a_route_can_have_its_own_quota(make_client: ClientFactory) -> None:
    overrides = {"organizations-create_organization": "2/hour"}
    async with make_client(rate_limit_api_routes=overrides) as client:
        acme = await make_tenant(client)
        owner = acme.auth[Role.OWNER]
        created = [
            (await client.post("/api/v1/orgs", headers=owner, json={"name": f"New {index}"})).status_code
            for index in range(3)
        ]
        assert created == [201, 201, 429]
        listed = await client.get("/api/v1/orgs", headers=owner)
        assert listed.status_code == 200
        assert policy_names(listed) == ["api"]


async def test_limited_responses_carry_the_fields(client: httpx.AsyncClient) -> None:
    acme = await make_tenant(client)
    tenant = await client.get(acme.path("/members"), headers=acme.auth[Role.VIEWER])
    assert policy_names(tenant) == ["api", "api_org"]
    assert tenant.headers["ratelimit"].count(";r=") == 2
    own = await client.get("/api/v1/users/me", headers=acme.auth[Role.VIEWER])
    assert policy_names(own) == ["api"]


async def test_replicas_share_the_quota_in_the_full_mode(make_client: ClientFactory) -> None:
    shared = {
        "rate_limit_api": "4/hour",
        "redis_url": REDIS_URL,
        "jwt_private_key": private_key_pem(Ed25519PrivateKey.generate()),
    }
    async with make_client(**shared) as first, make_client(**shared) as second:
        acme = await make_tenant(first)
        me = acme.auth[Role.VIEWER]
        statuses = [
            (await replica.get("/api/v1/users/me", headers=me)).status_code for replica in (first, second) * 3
        ]
        assert statuses == [200, 200, 200, 200, 429, 429]
