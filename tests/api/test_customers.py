"""Customers: create, read with ETag, list with a cursor and `q`, conditional PATCH and DELETE."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from app.core.permissions import Role
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

GLOBEX: dict[str, Any] = {
    "name": "Globex Trading GmbH",
    "email": "Billing@Globex.example.com",
    "address": {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "tax_id": "DE123456789",
    "metadata": {"crm_id": "4711"},
}


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def create(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post(acme.path("/customers"), headers=acme.auth[Role.MEMBER], json=body or GLOBEX)


async def test_create_then_read(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "billing@globex.example.com"  # normalised as every address is
    assert body["address"] == {**GLOBEX["address"], "line2": None, "region": None}
    assert created.headers["location"] == acme.path(f"/customers/{body['id']}")
    read = await client.get(created.headers["location"], headers=acme.auth[Role.VIEWER])
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == created.headers["etag"] == '"1"'


async def test_an_unchanged_customer_is_304_with_no_body(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme)
    url, etag = created.headers["location"], created.headers["etag"]
    for if_none_match in (etag, f"W/{etag}", f'"0", {etag}', "*"):
        response = await client.get(url, headers={**acme.auth[Role.VIEWER], "If-None-Match": if_none_match})
        assert (response.status_code, response.content, response.headers["etag"]) == (304, b"", etag)
    stale = await client.get(url, headers={**acme.auth[Role.VIEWER], "If-None-Match": '"0"'})
    assert stale.status_code == 200


async def test_patch_applies_only_what_is_sent_and_null_clears(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await create(client, acme)
    url = created.headers["location"]
    headers = {**acme.auth[Role.MEMBER], "If-Match": created.headers["etag"]}
    changed = await client.patch(url, headers=headers, json={"tax_id": None, "name": "Globex AG"})
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    body = changed.json()
    assert (body["name"], body["tax_id"], body["email"]) == ("Globex AG", None, "billing@globex.example.com")
    assert (await client.get(url, headers=acme.auth[Role.VIEWER])).json() == body


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 428, "precondition_required"),
        ({"If-Match": '"7"'}, 412, "precondition_failed"),
        ({"If-Match": 'W/"1"'}, 412, "precondition_failed"),  # If-Match compares strongly
        ({"If-Match": "not a tag"}, 412, "precondition_failed"),
    ],
)
async def test_a_write_without_the_current_etag_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, headers: dict[str, str], status: int, code: str
) -> None:
    created = await create(client, acme)
    url = created.headers["location"]
    for method, body in (("PATCH", {"name": "Hijacked"}), ("DELETE", None)):
        response = await client.request(method, url, headers={**acme.auth[Role.MEMBER], **headers}, json=body)
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert response.headers["content-type"] == "application/problem+json"
    if status == 412:
        assert response.headers["etag"] == '"1"'  # what to read again
    assert (await client.get(url, headers=acme.auth[Role.VIEWER])).json() == created.json()


async def test_a_missing_customer_is_404_whatever_the_precondition(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    url = acme.path("/customers/00000000-0000-0000-0000-000000000001")
    for headers in ({}, {"If-Match": '"1"'}):  # not 428 either: there is nothing to precondition
        response = await client.patch(url, headers={**acme.auth[Role.MEMBER], **headers}, json={"name": "x"})
        assert response.status_code == 404


async def test_delete_with_the_etag(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme)
    url = created.headers["location"]
    deleted = await client.delete(
        url, headers={**acme.auth[Role.MEMBER], "If-Match": created.headers["etag"]}
    )
    assert deleted.status_code == 204
    assert (await client.get(url, headers=acme.auth[Role.VIEWER])).status_code == 404


async def test_two_writers_with_one_etag_one_wins(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers whole")
    created = await create(client, acme)
    url = created.headers["location"]
    headers = {**acme.auth[Role.MEMBER], "If-Match": created.headers["etag"]}
    statuses: list[int] = []

    async def rename(name: str) -> None:
        statuses.append((await client.patch(url, headers=headers, json={"name": name})).status_code)

    async with anyio.create_task_group() as group:
        for name in ("First", "Second"):
            group.start_soon(rename, name)
    assert sorted(statuses) == [200, 412]
    assert (await client.get(url, headers=acme.auth[Role.VIEWER])).headers["etag"] == '"2"'


async def test_list_walks_every_customer_once_and_q_finds_any_case(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    names = [f"Customer {index:02d}" for index in range(5)] + ["Initech 100% Ltd"]
    for name in names:
        assert (await create(client, acme, {"name": name})).status_code == 201
    seen: list[str] = []
    url: str | None = acme.path("/customers?limit=2")
    while url:
        page = await client.get(url, headers=acme.auth[Role.VIEWER])
        assert page.status_code == 200
        seen += [item["name"] for item in page.json()["items"]]
        link = page.headers.get("link")
        url = link[1 : link.index(">")] if link else None
        assert (page.json()["next_cursor"] is None) == (link is None)
    assert seen == list(reversed(names))  # newest first
    found = await client.get(
        acme.path("/customers"), headers=acme.auth[Role.VIEWER], params={"q": "INITECH 100%"}
    )
    assert [item["name"] for item in found.json()["items"]] == ["Initech 100% Ltd"]
    wildcard = await client.get(acme.path("/customers"), headers=acme.auth[Role.VIEWER], params={"q": "%"})
    assert [item["name"] for item in wildcard.json()["items"]] == ["Initech 100% Ltd"]  # `%` is literal


async def test_a_cursor_serves_only_its_own_query(client: httpx.AsyncClient, acme: Tenant) -> None:
    for index in range(3):
        await create(client, acme, {"name": f"Customer {index}"})
    first = await client.get(acme.path("/customers?limit=1"), headers=acme.auth[Role.VIEWER])
    cursor = first.json()["next_cursor"]
    other = await client.get(
        acme.path("/customers"), headers=acme.auth[Role.VIEWER], params={"cursor": cursor, "q": "Customer"}
    )
    assert (other.status_code, other.json()["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Evil\u202eCorp"}, "name"),
        ({"name": "Line\nbreak"}, "name"),
        ({"name": "Ok", "email": "not an address"}, "email"),
        ({"name": "Ok", "email": "Name <a@example.com>"}, "email"),
        ({"name": "Ok", "address": {"line1": "x", "city": "y", "country": "de"}}, "address"),
        ({"name": "Ok", "address": {"line1": "x", "country": "DE"}}, "address"),
        ({"name": "Ok", "metadata": {f"k{index}": "v" for index in range(21)}}, "metadata"),
        ({"name": "Ok", "metadata": {"bad key!": "v"}}, "metadata"),
        ({"name": "Ok", "metadata": {"k" * 41: "v"}}, "metadata"),
        ({"name": "Ok", "metadata": {"key": "v" * 501}}, "metadata"),
        ({"name": "Ok", "metadata": {"key": 5}}, "metadata"),
        ({"name": "Ok", "org_id": "00000000-0000-0000-0000-000000000001"}, "org_id"),
        ({"name": "Ok", "id": "00000000-0000-0000-0000-000000000001"}, "id"),
        ({"name": "Ok", "tax_id": "x" * 65}, "tax_id"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await create(client, acme, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["loc"][1] for error in response.json()["errors"]}
    listed = await client.get(acme.path("/customers"), headers=acme.auth[Role.VIEWER])
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [{"name": None}, {"metadata": None}, {"org_id": "00000000-0000-0000-0000-000000000001"}, {"version": 9}],
)
async def test_patch_refuses_protected_and_unclearable_fields(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any]
) -> None:
    created = await create(client, acme)
    headers = {**acme.auth[Role.MEMBER], "If-Match": created.headers["etag"]}
    response = await client.patch(created.headers["location"], headers=headers, json=body)
    assert response.status_code == 422
    after = await client.get(created.headers["location"], headers=acme.auth[Role.VIEWER])
    assert after.headers["etag"] == '"1"'


async def test_writes_are_in_the_audit_log(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme)
    url, etag = created.headers["location"], created.headers["etag"]
    changed = await client.patch(
        url, headers={**acme.auth[Role.MEMBER], "If-Match": etag}, json={"name": "G"}
    )
    await client.delete(url, headers={**acme.auth[Role.MEMBER], "If-Match": changed.headers["etag"]})
    log = await client.get(
        acme.path("/audit-log"), headers=acme.auth[Role.OWNER], params={"target_type": "customer"}
    )
    assert [entry["action"] for entry in log.json()["items"]] == [
        "customer.deleted",
        "customer.updated",
        "customer.created",
    ]
