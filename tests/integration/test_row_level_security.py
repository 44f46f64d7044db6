"""PostgreSQL row-level security: the backstop behind the tenant seam, tested with raw SQL.

The app's sessions connect as the API role (it owns no table, so FORCEd RLS binds it). Each
test writes two organizations' memberships as the owner, then reads and writes through the
app's own `Database` with SQL that carries no organization filter at all.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.permissions import Role
from app.db.session import Database
from app.db.session.tenancy import bind_organization, bind_user
from tests.conftest import app_database, settings_for_test
from tests.support.factories import add_member, make_user

pytestmark = pytest.mark.anyio

COUNT_MEMBERSHIPS = text("SELECT org_id FROM memberships")


@pytest.fixture
async def postgres_url(database_url: str) -> AsyncIterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("row-level security is PostgreSQL's; on SQLite the seam is the only guard")
    yield database_url
    from tests.conftest import empty_tables

    await empty_tables(database_url)


@pytest.fixture
async def two_tenants(postgres_url: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """(org A, org B, a user of A): A has two members, B one."""
    alice = await make_user(postgres_url, "alice@a.example.com", organization="A")
    await make_user(postgres_url, "bob@b.example.com", organization="B")
    bob_org = await make_user(postgres_url, "carol@b.example.com", organization="B2")
    assert alice.org_id
    assert bob_org.org_id
    await add_member(postgres_url, org_id=alice.org_id, email="dave@a.example.com", role=Role.VIEWER)
    return alice.org_id, bob_org.org_id, alice.id


def api_database(owner_url: str, **overrides: object) -> Database:
    return Database(settings_for_test(**app_database(owner_url), **overrides))


async def test_raw_sql_in_a_bound_session_sees_only_that_tenant(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str
) -> None:
    org_a, _org_b, _alice = two_tenants
    database = api_database(postgres_url)
    try:
        async with database.unit_of_work() as session:
            await bind_organization(session, org_a)
            rows = (await session.execute(COUNT_MEMBERSHIPS)).scalars().all()
        assert sorted(rows) == [org_a, org_a]
    finally:
        await database.dispose()


async def test_with_nothing_bound_tenant_tables_read_as_empty(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str
) -> None:
    database = api_database(postgres_url)
    try:
        async with database.unit_of_work() as session:
            assert (await session.execute(COUNT_MEMBERSHIPS)).all() == []
        async with database.autocommit() as connection:
            assert (await connection.execute(COUNT_MEMBERSHIPS)).all() == []
    finally:
        await database.dispose()


async def test_a_user_bound_session_reads_only_their_own_memberships(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str
) -> None:
    org_a, _org_b, alice = two_tenants
    database = api_database(postgres_url)
    try:
        async with database.unit_of_work() as session:
            await bind_user(session, alice)
            rows = (await session.execute(text("SELECT user_id, org_id FROM memberships"))).all()
        assert [(row.user_id, row.org_id) for row in rows] == [(alice, org_a)]
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO memberships (id, user_id, org_id, role, created_at, updated_at) "
        "SELECT gen_random_uuid(), :user_id, :other_org, 'owner', now(), now()",
        "UPDATE memberships SET org_id = :other_org WHERE user_id = :user_id",
    ],
    ids=["insert", "move"],
)
async def test_writing_another_tenants_org_id_is_refused(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str, statement: str
) -> None:
    org_a, org_b, alice = two_tenants
    database = api_database(postgres_url)
    try:

        async def write_as_a() -> None:
            async with database.unit_of_work() as session:
                await bind_organization(session, org_a)
                await session.execute(text(statement), {"user_id": alice, "other_org": org_b})

        with pytest.raises(DBAPIError, match="row-level security"):
            await write_as_a()
        async with database.unit_of_work() as session:
            await bind_organization(session, org_b)
            assert (await session.execute(COUNT_MEMBERSHIPS)).all() == [(org_b,)]
    finally:
        await database.dispose()


async def test_updates_and_deletes_without_a_filter_touch_only_the_bound_tenant(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str
) -> None:
    org_a, org_b, _alice = two_tenants
    database = api_database(postgres_url)
    try:
        async with database.unit_of_work() as session:
            await bind_organization(session, org_b)
            deleted = await session.execute(text("DELETE FROM memberships"))
            assert deleted.rowcount == 1  # type: ignore[attr-defined]
        async with database.unit_of_work() as session:
            await bind_organization(session, org_a)
            assert len((await session.execute(COUNT_MEMBERSHIPS)).all()) == 2
    finally:
        await database.dispose()


async def test_a_pooled_connection_never_carries_the_previous_requests_organization(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str
) -> None:
    org_a, _org_b, _alice = two_tenants
    database = api_database(postgres_url, db_pool_size=1, db_max_overflow=0)
    try:
        async with database.unit_of_work() as session:
            await bind_organization(session, org_a)
            first_pid = await session.scalar(text("SELECT pg_backend_pid()"))
            assert len((await session.execute(COUNT_MEMBERSHIPS)).all()) == 2
        # A failed request bound to A, on the same connection.

        async def failing_request_of_a() -> None:
            async with database.unit_of_work() as session:
                await bind_organization(session, org_a)
                await session.execute(COUNT_MEMBERSHIPS)
                raise RuntimeError("the endpoint failed")

        with pytest.raises(RuntimeError):
            await failing_request_of_a()
        async with database.unit_of_work() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) == first_pid
            assert await session.scalar(text("SELECT current_setting('app.org_id', true)")) in ("", None)
            assert (await session.execute(COUNT_MEMBERSHIPS)).all() == []
        async with database.autocommit() as connection:
            assert (await connection.execute(COUNT_MEMBERSHIPS)).all() == []
    finally:
        await database.dispose()


async def test_the_api_role_owns_nothing_and_cannot_bypass_rls(
    two_tenants: tuple[uuid.UUID, ...], postgres_url: str
) -> None:
    database = api_database(postgres_url)
    try:
        async with database.autocommit() as connection:
            role = (
                await connection.execute(
                    text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                )
            ).one()
            owned = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
                )
            )
            with pytest.raises(DBAPIError, match="must be owner"):
                await connection.execute(text("ALTER TABLE memberships DISABLE ROW LEVEL SECURITY"))
        assert (role.rolsuper, role.rolbypassrls, owned) == (False, False, 0)
    finally:
        await database.dispose()
