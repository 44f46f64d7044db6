"""/orgs/{org_id}/events: each change's event, written in its transaction with the response as
its data; filters, cursor pages, permissions, tenancy and append-only storage."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.core.events import EventType
from app.core.permissions import Role
from app.models import Event
from app.models.event import EventIsAppendOnlyError
from tests.conftest import app_database
from tests.support.accounts import bearer
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

GLOBEX: dict[str, Any] = {
    "name": "Globex Trading GmbH",
    "email": "billing@globex.example.com",
    "address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": "DE"},
    "metadata": {"crm_id": "4711"},
}


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


def request_id(name: str) -> str:
    """An X-Request-ID the API keeps (20-200 characters of its alphabet)."""
    return f"events-test-{name}".ljust(24, "0")


async def create(
    client: httpx.AsyncClient,
    acme: Tenant,
    body: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    response = await client.post(
        acme.path("/customers"), headers={**acme.auth[Role.MEMBER], **(headers or {})}, json=body or GLOBEX
    )
    assert response.status_code == 201, response.text
    return response


async def listed(client: httpx.AsyncClient, acme: Tenant, params: Any = None, *, status: int = 200) -> Any:
    response = await client.get(acme.path("/events"), headers=acme.auth[Role.ACCOUNTANT], params=params)
    assert response.status_code == status, response.text
    return response.json()


async def events(client: httpx.AsyncClient, acme: Tenant, params: Any = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await listed(client, acme, params))["items"]
    return items


async def test_each_change_is_one_event_whose_data_is_the_response(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    member = acme.auth[Role.MEMBER]
    created = await create(client, acme, headers={"X-Request-ID": request_id("create")})
    url = created.headers["location"]
    changed = await client.patch(
        url,
        headers={**member, "If-Match": created.headers["etag"], "X-Request-ID": request_id("change")},
        json={"name": "Globex AG", "tax_id": "DE123456789"},
    )
    assert changed.status_code == 200, changed.text
    deleted = await client.delete(url, headers={**member, "If-Match": changed.headers["etag"]})
    assert deleted.status_code == 204
    assert deleted.headers["x-request-id"]  # the API's own, as none was sent

    newest_first = await events(client, acme)
    assert [event["type"] for event in newest_first] == [
        "customer.deleted",
        "customer.updated",
        "customer.created",
    ]
    # The data of each is the body of its response; a deletion's is the customer as it was.
    assert [event["data"] for event in newest_first] == [changed.json(), changed.json(), created.json()]
    assert [event["request_id"] for event in newest_first] == [
        deleted.headers["x-request-id"],
        request_id("change"),
        request_id("create"),
    ]
    actor = {"type": "user", "id": str(acme.ids[Role.MEMBER])}
    assert all(event["actor"] == actor for event in newest_first)
    assert all(event["occurred_at"].endswith("Z") for event in newest_first)
    times = [datetime.fromisoformat(event["occurred_at"]) for event in newest_first]
    assert times == sorted(times, reverse=True)
    for event in newest_first:
        one = await client.get(acme.path(f"/events/{event['id']}"), headers=acme.auth[Role.ADMIN])
        assert (one.status_code, one.json()) == (200, event)


async def test_an_api_key_is_the_actor(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = (
        await client.post(
            acme.path("/api-keys"),
            headers=acme.auth[Role.OWNER],
            json={"name": "crm sync", "scopes": ["customers:write"]},
        )
    ).json()
    made = await client.post(acme.path("/customers"), headers=bearer(key["secret"]), json={"name": "Initech"})
    assert made.status_code == 201
    [event] = await events(client, acme)
    assert (event["type"], event["data"]) == ("customer.created", made.json())
    assert event["actor"] == {"type": "api_key", "id": key["id"]}


async def test_the_audit_entry_and_the_event_are_written_together(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await create(client, acme)
    [event] = await events(client, acme)
    [entry] = (
        await client.get(
            acme.path("/audit-log"), headers=acme.auth[Role.ADMIN], params={"target_type": "customer"}
        )
    ).json()["items"]
    assert (entry["action"], entry["target_id"], entry["request_id"]) == (
        event["type"],
        created.json()["id"],
        event["request_id"],
    )


@pytest.mark.parametrize(
    ("method", "headers", "body", "status"),
    [
        ("PATCH", {"If-Match": '"7"'}, {"name": "Stale"}, 412),
        ("PATCH", {}, {"name": "Unconditional"}, 428),
        ("PATCH", {"If-Match": '"1"'}, {"name": ""}, 422),
        ("PATCH", {"If-Match": '"1"'}, {"version": 5}, 422),
        ("DELETE", {"If-Match": '"7"'}, None, 412),
        ("DELETE", {}, None, 428),
    ],
)
async def test_a_refused_change_writes_no_event(
    client: httpx.AsyncClient,
    acme: Tenant,
    method: str,
    headers: dict[str, str],
    body: dict[str, Any] | None,
    status: int,
) -> None:
    created = await create(client, acme)
    response = await client.request(
        method, created.headers["location"], headers={**acme.auth[Role.MEMBER], **headers}, json=body
    )
    assert response.status_code == status, response.text
    assert [event["type"] for event in await events(client, acme)] == ["customer.created"]


async def test_a_refused_creation_and_a_change_that_changes_nothing_write_no_event(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    refused = await client.post(acme.path("/customers"), headers=acme.auth[Role.MEMBER], json={"name": ""})
    assert refused.status_code == 422
    forbidden = await client.post(acme.path("/customers"), headers=acme.auth[Role.VIEWER], json=GLOBEX)
    assert forbidden.status_code == 403
    assert await events(client, acme) == []
    created = await create(client, acme)
    same = await client.patch(
        created.headers["location"],
        headers={**acme.auth[Role.MEMBER], "If-Match": created.headers["etag"]},
        json={"name": GLOBEX["name"]},
    )
    assert (same.status_code, same.headers["etag"]) == (200, '"1"')
    assert [event["type"] for event in await events(client, acme)] == ["customer.created"]


async def test_of_two_concurrent_writers_only_the_winner_has_an_event(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers whole")
    created = await create(client, acme)
    headers = {**acme.auth[Role.MEMBER], "If-Match": created.headers["etag"]}
    answers: dict[str, httpx.Response] = {}

    async def rename(name: str) -> None:
        answers[name] = await client.patch(created.headers["location"], headers=headers, json={"name": name})

    async with anyio.create_task_group() as group:
        for name in ("First", "Second"):
            group.start_soon(rename, name)
    [winner] = [response for response in answers.values() if response.status_code == 200]
    updates = await events(client, acme, {"type": "customer.updated"})
    assert [event["data"] for event in updates] == [winner.json()]


async def test_filters_by_type_and_time(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await create(client, acme, {"name": "First"})
    second = await create(client, acme, {"name": "Second"})
    await client.patch(
        second.headers["location"],
        headers={**acme.auth[Role.MEMBER], "If-Match": second.headers["etag"]},
        json={"name": "Second, renamed"},
    )
    await client.delete(
        first.headers["location"], headers={**acme.auth[Role.MEMBER], "If-Match": first.headers["etag"]}
    )
    every = await events(client, acme)
    assert [event["type"] for event in every] == [
        "customer.deleted",
        "customer.updated",
        "customer.created",
        "customer.created",
    ]

    def types(found: list[dict[str, Any]]) -> list[str]:
        return [event["type"] for event in found]

    assert types(await events(client, acme, {"type": "customer.created"})) == ["customer.created"] * 2
    both = await events(client, acme, [("type", "customer.deleted"), ("type", "customer.updated")])
    assert both == every[:2]
    assert await events(client, acme, {"type": "invoice.paid"}) == []  # known, none yet

    # Both bounds are inclusive: the middle two events' own times select exactly them.
    newer, older = every[1]["occurred_at"], every[2]["occurred_at"]
    assert await events(client, acme, {"occurred_from": older, "occurred_to": newer}) == every[1:3]
    assert await events(client, acme, {"occurred_from": newer}) == every[:2]
    assert await events(client, acme, {"occurred_to": older}) == every[2:]
    assert await events(client, acme, {"occurred_from": older, "occurred_to": older}) == [every[2]]
    # Any offset names the same moment.
    in_berlin = datetime.fromisoformat(newer).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert in_berlin.endswith("+02:00")
    assert await events(client, acme, {"occurred_from": in_berlin}) == every[:2]
    combined = [("type", "customer.created"), ("occurred_from", older)]
    assert await events(client, acme, combined) == [every[2]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "customer.exploded"}, "type"),
        ({"type": "CUSTOMER.CREATED"}, "type"),
        ({"occurred_from": "2026-01-02T00:00:00Z", "occurred_to": "2026-01-01T00:00:00Z"}, "occurred_from"),
        ({"occurred_from": "2026-01-01T00:00:00"}, "occurred_from"),  # no offset: which moment?
        ({"occurred_to": "yesterday"}, "occurred_to"),
        ([("type", "customer.created")] * (len(EventType) + 1), "type"),  # more than there are
    ],
)
async def test_bad_filters_are_a_422_naming_the_parameter(
    client: httpx.AsyncClient, acme: Tenant, params: Any, field: str
) -> None:
    body = await listed(client, acme, params, status=422)
    assert body["code"] == "validation_error"
    assert {tuple(error["loc"][:2]) for error in body["errors"]} == {("query", field)}


async def test_a_cursor_walk_sees_every_event_once_newest_first(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    for index in range(7):
        await create(client, acme, {"name": f"Customer {index}"})
    every = await events(client, acme)
    assert len(every) == 7
    for params in ("limit=3", "limit=2&type=customer.created"):
        seen: list[dict[str, Any]] = []
        url: str | None = acme.path(f"/events?{params}")
        pages = 0
        while url:
            page = await client.get(url, headers=acme.auth[Role.ACCOUNTANT])
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            link = page.headers.get("link")
            url = link[1 : link.index(">")] if link else None
            assert (page.json()["next_cursor"] is None) == (link is None)
            pages += 1
        assert seen == every
        assert pages > 2


async def test_a_cursor_serves_only_its_own_list(client: httpx.AsyncClient, acme: Tenant) -> None:
    for index in range(3):
        await create(client, acme, {"name": f"Customer {index}"})
        await client.post(
            f"/api/v1/orgs/{acme.outsider_org_id}/customers",
            headers=acme.outsider,
            json={"name": f"O{index}"},
        )
    cursor = (await listed(client, acme, {"limit": 1}))["next_cursor"]
    filtered = (await listed(client, acme, {"limit": 1, "type": "customer.created"}))["next_cursor"]
    assert (await listed(client, acme, {"limit": 1, "cursor": cursor}))["items"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for params in (
        {"cursor": tampered},
        {"cursor": cursor, "type": "customer.created"},
        {"cursor": filtered},
        {"cursor": cursor, "occurred_from": "2000-01-01T00:00:00Z"},
        {"cursor": "not a cursor"},
    ):
        assert (await listed(client, acme, params, status=400))["code"] == "invalid_cursor"
    # The same filters in another order or time zone are the same list.
    times = {"occurred_from": "2000-01-01T00:00:00Z", "type": ["customer.updated", "customer.created"]}
    first = (await listed(client, acme, {**times, "limit": 1}))["next_cursor"]
    reordered = [
        ("type", "customer.created"),
        ("type", "customer.updated"),
        ("occurred_from", "2000-01-01T02:00:00+02:00"),
        ("cursor", first),
    ]
    assert len((await listed(client, acme, reordered))["items"]) == 2
    foreign = await client.get(
        f"/api/v1/orgs/{acme.outsider_org_id}/events", headers=acme.outsider, params={"cursor": cursor}
    )
    assert (foreign.status_code, foreign.json()["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OWNER, 200),
        (Role.ADMIN, 200),
        (Role.ACCOUNTANT, 200),
        (Role.MEMBER, 403),
        (Role.VIEWER, 403),
    ],
)
async def test_events_read_is_owner_admin_and_accountant(
    client: httpx.AsyncClient, acme: Tenant, role: Role, status: int
) -> None:
    await create(client, acme)
    [event] = await events(client, acme)
    for path in ("/events", f"/events/{event['id']}"):
        response = await client.get(acme.path(path), headers=acme.auth[role])
        assert response.status_code == status, (path, response.text)


async def test_another_organizations_events_are_not_there(client: httpx.AsyncClient, acme: Tenant) -> None:
    await create(client, acme)
    [acmes] = await events(client, acme)
    theirs = await client.post(
        f"/api/v1/orgs/{acme.outsider_org_id}/customers", headers=acme.outsider, json={"name": "Theirs"}
    )
    assert theirs.status_code == 201
    assert await events(client, acme) == [acmes]
    own = f"/api/v1/orgs/{acme.outsider_org_id}/events"
    [their_event] = (await client.get(own, headers=acme.outsider)).json()["items"]
    assert their_event["data"] == theirs.json()
    for event_id in (acmes["id"], str(uuid.UUID(int=1))):
        missing = await client.get(f"{own}/{event_id}", headers=acme.outsider)
        assert (missing.status_code, missing.json()["detail"]) == (404, "No such event.")
    # Through Acme's path the outsider learns nothing, not even that the organization exists.
    hidden = await client.get(acme.path(f"/events/{acmes['id']}"), headers=acme.outsider)
    assert (hidden.status_code, hidden.json()["detail"]) == (404, "No such organization.")


async def test_the_orm_only_ever_stamps_relayed_at(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    await create(client, acme)
    engine = create_async_engine(database_url)  # the owner's, outside the tenant seam
    try:
        for change in ("type", "data", "delete"):
            async with AsyncSession(engine) as session, session.begin():
                event = await session.scalar(select(Event).where(Event.org_id == acme.org_id))
                assert event is not None
                if change == "type":
                    event.type = EventType.CUSTOMER_DELETED
                elif change == "data":
                    event.data = {"name": "forged"}
                else:
                    await session.delete(event)
                with pytest.raises(EventIsAppendOnlyError):
                    await session.flush()
                await session.rollback()
        async with AsyncSession(engine) as session, session.begin():
            event = await session.scalar(select(Event).where(Event.org_id == acme.org_id))
            assert event is not None
            event.relayed_at = datetime.fromisoformat("2026-11-29T14:00:00+00:00")
    finally:
        await engine.dispose()
    [after] = await events(client, acme)
    assert after["type"] == "customer.created"
    assert "relayed_at" not in after  # the relay's business, not the API's


async def test_the_api_role_may_only_stamp_relayed_at(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("privileges are PostgreSQL's; on SQLite the ORM is the guard (test above)")
    created = await create(client, acme)
    engine = create_async_engine(app_database(database_url)["database_url"])

    async def as_the_api(statement: str) -> int:
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config('app.org_id', :org, true)"), {"org": str(acme.org_id)}
            )
            return (await connection.execute(text(statement))).rowcount

    try:
        for statement in (
            "UPDATE events SET type = 'customer.deleted'",
            "UPDATE events SET data = '{}'",
            "UPDATE events SET relayed_at = now(), request_id = 'forged'",
            "DELETE FROM events",
            "TRUNCATE events",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                await as_the_api(statement)
        # The relay has stamped it already (the fan-out ran): the API role may stamp it again.
        assert await as_the_api("UPDATE events SET relayed_at = now()") == 1
    finally:
        await engine.dispose()
    [event] = await events(client, acme)
    assert (event["type"], event["data"]) == ("customer.created", created.json())
