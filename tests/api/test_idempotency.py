"""Idempotency-Key on POST: replay, refusal of reuse, in-flight requests, atomicity, secrets.

`POST /orgs/{org_id}/customers` is the vehicle; the mechanism is the same on every POST that
declares the dependency (the walk over the routes at the end checks that they all do).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.util import await_only

from app.core.permissions import Role
from app.models import ApiKey, Customer, IdempotencyKey
from app.models.base import utcnow
from app.services import customers, idempotency
from tests.conftest import ClientFactory
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

BODY: dict[str, Any] = {"name": "Globex Trading GmbH", "email": "billing@globex.example.com"}
KEY = "3f1b6c2e-1a7d-4e59-9a51-0c7f6b8e2d10"


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def create(
    client: httpx.AsyncClient,
    acme: Tenant,
    key: str | bytes | None = KEY,
    *,
    role: Role = Role.MEMBER,
    **kw: Any,
) -> httpx.Response:
    headers: dict[str, Any] = dict(acme.auth[role])
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(acme.path("/customers"), headers=headers, json=kw.get("body", BODY))


async def count(database_url: str, model: type[Any]) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


async def test_a_retry_replays_the_first_response_byte_for_byte(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    first = await create(client, acme)
    retry = await create(client, acme)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content
    for name in ("content-type", "location", "etag"):
        assert retry.headers[name] == first.headers[name], name
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # A replay is a request of its own: its own id and rate-limit fields, once each.
    assert retry.headers["x-request-id"] != first.headers["x-request-id"]
    assert len(retry.headers.get_list("ratelimit")) == 1
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (1, 1)


async def test_without_a_key_each_request_executes(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    for _ in range(2):
        assert (await create(client, acme, key=None)).status_code == 201
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (2, 0)


async def test_the_same_key_for_another_request_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    assert (await create(client, acme)).status_code == 201
    other_body = await create(client, acme, body={**BODY, "name": "Initech"})
    # Another route with the same key: the key is the caller's, whatever the route.
    other_route = await client.post(
        "/api/v1/orgs", headers={**acme.auth[Role.MEMBER], "Idempotency-Key": KEY}, json={"name": "Initech"}
    )
    for refused in (other_body, other_route):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "idempotency_key_reused"
    assert await count(database_url, Customer) == 1
    # Byte for byte: the same JSON written otherwise is another request.
    respaced = await client.post(
        acme.path("/customers"),
        headers={**acme.auth[Role.MEMBER], "Idempotency-Key": KEY, "Content-Type": "application/json"},
        content=b'{"name": "Globex Trading GmbH",  "email": "billing@globex.example.com"}',
    )
    assert respaced.json()["code"] == "idempotency_key_reused"


async def test_another_callers_identical_key_is_another_key(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    mine = await create(client, acme, role=Role.MEMBER)
    theirs = await create(client, acme, role=Role.ADMIN)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (2, 2)


async def test_an_api_key_is_a_caller_of_its_own(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    made = await client.post(
        acme.path("/api-keys"),
        headers=acme.auth[Role.OWNER],
        json={"name": "sync", "scopes": ["customers:read", "customers:write"]},
    )
    assert made.status_code == 201, made.text
    as_key = {"Authorization": f"Bearer {made.json()['secret']}", "Idempotency-Key": KEY}
    by_key = [await client.post(acme.path("/customers"), headers=as_key, json=BODY) for _ in range(2)]
    by_owner = await create(client, acme, role=Role.OWNER)
    assert [response.status_code for response in (*by_key, by_owner)] == [201, 201, 201]
    assert by_key[1].headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in by_owner.headers
    assert await count(database_url, Customer) == 2


async def test_of_two_concurrent_requests_with_one_key_one_runs_and_one_is_409(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    """The first is held just before it writes its customer; the second comes meanwhile.

    PostgreSQL: the first holds its key's advisory lock, so the second is refused at once,
    without waiting on anything. SQLite serialises writers: the second finds no key yet, runs
    and commits; the first then meets the committed key and is refused, its customer rolled back.
    """
    postgres = database_url.startswith("postgresql")
    engine = client.app.state.services.database.engine  # type: ignore[attr-defined]
    reached, resume = asyncio.Event(), asyncio.Event()

    async def pause() -> None:
        reached.set()
        await resume.wait()

    def hold_the_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO customers") and not reached.is_set():
            await_only(pause())

    event.listen(engine.sync_engine, "before_cursor_execute", hold_the_first)
    try:
        first = asyncio.create_task(create(client, acme))
        await asyncio.wait_for(reached.wait(), 10)
        second = await asyncio.wait_for(create(client, acme), 5)
        resume.set()
        first_response = await first
    finally:
        resume.set()
        event.remove(engine.sync_engine, "before_cursor_execute", hold_the_first)
    ran, refused = (first_response, second) if postgres else (second, first_response)
    assert ran.status_code == 201, ran.text
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "idempotency_request_in_flight"
    after = await create(client, acme)
    assert (after.status_code, after.headers["idempotent-replayed"]) == (201, "true")
    assert after.content == ran.content
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (1, 1)


async def test_a_failed_request_keeps_neither_its_effect_nor_its_key(
    client: httpx.AsyncClient, acme: Tenant, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = customers.create_customer

    async def create_then_fail(*, session: AsyncSession, **kwargs: Any) -> Customer:
        await original(session=session, **kwargs)
        await session.flush()  # the row is written in the transaction...
        raise RuntimeError("...and then the handler fails")

    monkeypatch.setattr(customers, "create_customer", create_then_fail)
    failed = await create(client, acme)
    assert failed.status_code == 500
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (0, 0)
    monkeypatch.setattr(customers, "create_customer", original)
    retried = await create(client, acme)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (1, 1)


async def test_a_failed_key_write_rolls_the_effect_back(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    """The key is written after the endpoint, before the commit: its failure is the request's."""
    engine = client.app.state.services.database.engine  # type: ignore[attr-defined]

    def refuse_the_key(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO idempotency_keys"):
            raise RuntimeError("the key's insert fails")

    event.listen(engine.sync_engine, "before_cursor_execute", refuse_the_key)
    try:
        assert (await create(client, acme)).status_code == 500
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", refuse_the_key)
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (0, 0)


async def test_refusals_are_not_stored(client: httpx.AsyncClient, acme: Tenant, database_url: str) -> None:
    for _ in range(2):  # the same invalid request twice: a validation error each time, not a reuse
        invalid = await create(client, acme, body={"email": "no name"})
        assert invalid.json()["code"] == "validation_error"
    assert await count(database_url, IdempotencyKey) == 0
    assert (await create(client, acme)).status_code == 201


async def test_a_caller_who_lost_the_permission_gets_no_replay(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The key is looked at after authorisation: a stored response is no way around a 403."""
    assert (await create(client, acme)).status_code == 201
    demoted = await client.patch(
        acme.path(f"/members/{acme.ids[Role.MEMBER]}"), headers=acme.auth[Role.OWNER], json={"role": "viewer"}
    )
    assert demoted.status_code == 200, demoted.text
    refused = await create(client, acme)
    assert refused.status_code == 403
    assert "idempotent-replayed" not in refused.headers


async def test_an_expired_key_is_a_new_key(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    first = await create(client, acme)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()
    again = await create(client, acme)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert (await count(database_url, Customer), await count(database_url, IdempotencyKey)) == (2, 1)


async def test_the_ttl_setting_sets_the_expiry(make_client: ClientFactory, database_url: str) -> None:
    async with make_client(idempotency_key_ttl_seconds=3600) as client:
        acme = await make_tenant(client)
        before = utcnow()
        assert (await create(client, acme)).status_code == 201
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            expires_at = await connection.scalar(select(IdempotencyKey.expires_at))
    finally:
        await engine.dispose()
    assert expires_at is not None
    assert (
        before + timedelta(seconds=3599)
        < expires_at.replace(tzinfo=before.tzinfo)
        < utcnow() + timedelta(seconds=3601)
    )


async def test_purge_expired_deletes_only_expired_keys(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    assert (await create(client, acme)).status_code == 201
    assert (await create(client, acme, key="another")).status_code == 201
    owner = create_async_engine(database_url)
    try:
        async with AsyncSession(owner) as session, session.begin():
            assert await idempotency.purge_expired(session, utcnow()) == 0
            assert await idempotency.purge_expired(session, utcnow() + timedelta(days=2)) == 2
    finally:
        await owner.dispose()
    assert await count(database_url, IdempotencyKey) == 0


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="256 characters"),
        pytest.param("clé".encode(), id="non-ASCII"),
        pytest.param(b"a\x01b", id="control character"),
        pytest.param(b"a\x7fb", id="DEL"),
        pytest.param(b"a\tb", id="tab"),
    ],
)
async def test_a_malformed_key_is_a_400(
    client: httpx.AsyncClient, acme: Tenant, database_url: str, key: str | bytes
) -> None:
    response = await create(client, acme, key=key)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_idempotency_key"
    assert await count(database_url, Customer) == 0


async def test_the_longest_and_the_oddest_printable_keys_work(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    for key in ("k" * 255, '"quoted; with spaces & ~{}"', "x"):
        first, retry = await create(client, acme, key=key), await create(client, acme, key=key)
        assert (first.status_code, retry.headers["idempotent-replayed"]) == (201, "true"), key


async def test_an_api_key_replay_returns_its_secret_which_is_stored_nowhere_readable(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    headers = {**acme.auth[Role.OWNER], "Idempotency-Key": KEY}
    body = {"name": "deploy", "scopes": ["customers:read"]}
    first = await client.post(acme.path("/api-keys"), headers=headers, json=body)
    retry = await client.post(acme.path("/api-keys"), headers=headers, json=body)
    assert first.status_code == 201, first.text
    assert (retry.content, retry.headers["idempotent-replayed"]) == (first.content, "true")
    secret = first.json()["secret"]
    assert await count(database_url, ApiKey) == 1
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(IdempotencyKey.__table__))).all()
            dump = repr(rows)
            if database_url.startswith("postgresql"):
                dump += " ".join(
                    (await connection.execute(text("SELECT t::text FROM idempotency_keys t"))).scalars()
                )
    finally:
        await engine.dispose()
    assert len(rows) == 1
    raw = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in rows[0])
    for needle in (secret, secret[3:], KEY, first.json()["id"]):
        assert needle.encode() not in raw, needle
        assert needle not in dump, needle
