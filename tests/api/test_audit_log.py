"""/orgs/{org_id}/audit-log: every change recorded in its transaction, append-only, paged by cursor."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.permissions import Role
from tests.conftest import app_database
from tests.support.accounts import bearer
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

REQUEST_ID = "audit-test-request-0001"


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def entries(client: httpx.AsyncClient, acme: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN], params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_each_change_is_recorded_with_actor_request_and_address(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    viewer = acme.ids[Role.VIEWER]
    changed = await client.patch(
        acme.path(f"/members/{viewer}"),
        headers={**acme.auth[Role.ADMIN], "X-Request-ID": REQUEST_ID},
        json={"role": "member"},
    )
    assert changed.status_code == 200
    [entry] = await entries(client, acme)
    assert entry["action"] == "member.role_changed"
    assert (entry["actor_type"], entry["actor_id"]) == ("user", str(acme.ids[Role.ADMIN]))
    assert (entry["target_type"], entry["target_id"]) == ("member", str(viewer))
    assert entry["changes"] == {"role": ["viewer", "member"]}
    assert entry["request_id"] == REQUEST_ID
    assert entry["client_ip"] == "127.0.0.1"
    assert entry["created_at"].endswith("Z")


async def test_every_kind_of_change_leaves_an_entry(client: httpx.AsyncClient, acme: Tenant) -> None:
    owner = acme.auth[Role.OWNER]
    await client.patch(acme.path(), headers=owner, json={"name": "Acme Holdings"})
    key = (
        await client.post(
            acme.path("/api-keys"), headers=owner, json={"name": "k", "scopes": ["members:read"]}
        )
    ).json()
    await client.delete(acme.path(f"/api-keys/{key['id']}"), headers=owner)
    await client.delete(acme.path(f"/members/{acme.ids[Role.MEMBER]}"), headers=owner)
    await client.delete(acme.path("/members/me"), headers=acme.auth[Role.VIEWER])
    await client.post(
        acme.path("/members/transfer-ownership"), headers=owner, json={"user_id": str(acme.ids[Role.ADMIN])}
    )
    actions = [entry["action"] for entry in await entries(client, acme)]
    assert actions == [
        "organization.ownership_transferred",
        "member.left",
        "member.removed",
        "api_key.revoked",
        "api_key.created",
        "organization.renamed",
    ]


async def test_an_api_key_is_the_actor_of_what_it_does(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await client.post(
        acme.path("/api-keys"),
        headers=acme.auth[Role.OWNER],
        json={"name": "bot", "scopes": ["api_keys:manage", "members:read"]},
    )
    key = created.json()
    other = await client.post(
        acme.path("/api-keys"),
        headers=bearer(key["secret"]),
        json={"name": "made by bot", "scopes": ["members:read"]},
    )
    assert other.status_code == 201
    newest = (await entries(client, acme))[0]
    assert (newest["action"], newest["actor_type"], newest["actor_id"]) == (
        "api_key.created",
        "api_key",
        key["id"],
    )


async def test_a_refused_change_leaves_no_entry(client: httpx.AsyncClient, acme: Tenant) -> None:
    refused = await client.patch(
        acme.path(f"/members/{acme.ids[Role.OWNER]}"), headers=acme.auth[Role.OWNER], json={"role": "viewer"}
    )
    assert refused.status_code == 409
    assert await entries(client, acme) == []


async def test_reading_needs_audit_read_and_membership(client: httpx.AsyncClient, acme: Tenant) -> None:
    for role in (Role.ACCOUNTANT, Role.MEMBER, Role.VIEWER):
        assert (await client.get(acme.path("/audit-log"), headers=acme.auth[role])).status_code == 403
    assert (await client.get(acme.path("/audit-log"), headers=acme.outsider)).status_code == 404
    # and another organization's entries never show
    await client.patch(
        f"/api/v1/orgs/{acme.outsider_org_id}", headers=acme.outsider, json={"name": "Elsewhere"}
    )
    assert await entries(client, acme) == []


async def test_pages_follow_the_cursor_and_the_link(client: httpx.AsyncClient, acme: Tenant) -> None:
    for index in range(5):
        await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json={"name": f"Acme {index}"})
    seen: list[str] = []
    url: str | None = acme.path("/audit-log?limit=2")
    pages = 0
    while url is not None:
        response = await client.get(url, headers=acme.auth[Role.ADMIN])
        assert response.status_code == 200
        body = response.json()
        seen += [entry["changes"]["name"][1] for entry in body["items"]]
        link = response.headers.get("link")
        if body["next_cursor"] is None:
            assert link is None
            url = None
        else:
            assert link is not None
            assert body["next_cursor"] in link
            assert link.endswith('>; rel="next"')
            url = link[1 : link.index(">")]
        pages += 1
    assert seen == [f"Acme {index}" for index in reversed(range(5))]
    assert pages == 3


async def test_filters_narrow_and_bind_the_cursor(client: httpx.AsyncClient, acme: Tenant) -> None:
    await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json={"name": "Renamed"})
    await client.patch(
        acme.path(f"/members/{acme.ids[Role.VIEWER]}"), headers=acme.auth[Role.ADMIN], json={"role": "member"}
    )
    await client.patch(
        acme.path(f"/members/{acme.ids[Role.MEMBER]}"), headers=acme.auth[Role.ADMIN], json={"role": "viewer"}
    )
    by_admin = await entries(client, acme, actor_id=str(acme.ids[Role.ADMIN]))
    assert [entry["action"] for entry in by_admin] == ["member.role_changed"] * 2
    assert [e["target_id"] for e in await entries(client, acme, target_id=str(acme.ids[Role.VIEWER]))] == [
        str(acme.ids[Role.VIEWER])
    ]
    assert [e["action"] for e in await entries(client, acme, action="organization.renamed")] == [
        "organization.renamed"
    ]
    assert await entries(client, acme, since="2999-01-01T00:00:00Z") == []
    # A cursor made for one filter is refused for another list.
    page = await client.get(
        acme.path("/audit-log"),
        headers=acme.auth[Role.ADMIN],
        params={"limit": 1, "action": "member.role_changed"},
    )
    cursor = page.json()["next_cursor"]
    assert cursor is not None
    other = await client.get(
        acme.path("/audit-log"), headers=acme.auth[Role.ADMIN], params={"cursor": cursor}
    )
    assert other.status_code == 400
    assert other.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "A" * 43},
        {"cursor": "x" * 201},
        {"limit": 0},
        {"limit": 201},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {"action": "DROP TABLE"},
        {"actor_id": "1"},
    ],
)
async def test_bad_list_parameters_are_refused(
    client: httpx.AsyncClient, acme: Tenant, params: dict[str, Any]
) -> None:
    response = await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN], params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_another_organizations_cursor_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    for index in range(2):
        await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json={"name": f"Acme {index}"})
        await client.patch(
            f"/api/v1/orgs/{acme.outsider_org_id}", headers=acme.outsider, json={"name": f"Other {index}"}
        )
    cursor = (
        await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN], params={"limit": 1})
    ).json()["next_cursor"]
    foreign = await client.get(
        f"/api/v1/orgs/{acme.outsider_org_id}/audit-log", headers=acme.outsider, params={"cursor": cursor}
    )
    assert foreign.status_code == 400
    assert foreign.json()["code"] == "invalid_cursor"


async def test_the_api_role_cannot_change_or_delete_entries(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("privileges are PostgreSQL's; on SQLite no code path changes an entry (the ORM refuses)")
    await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json={"name": "Logged"})
    engine = create_async_engine(app_database(database_url)["database_url"])

    async def as_the_api(statement: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config('app.org_id', :org, true)"), {"org": str(acme.org_id)}
            )
            await connection.execute(text(statement))

    try:
        for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="permission denied"):
                await as_the_api(statement)
    finally:
        await engine.dispose()
    assert [entry["action"] for entry in await entries(client, acme)] == ["organization.renamed"]


async def test_missing_organization_ids_in_filters_find_nothing(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    assert await entries(client, acme, actor_id=str(uuid.uuid4())) == []
