"""The tenant seam in the code (app/db/session/tenancy.py), on both databases.

Every ORM statement on a tenant model goes through a `TenantSession`: filtered by the bound
organization, stamped on insert, refused across organizations, and closed when nothing is bound.
On SQLite this is the only guard; on PostgreSQL row-level security stands behind it
(tests/integration/test_row_level_security.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select, update

from app.core.permissions import Role
from app.db.session import Database
from app.db.session.tenancy import (
    CrossTenantWriteError,
    TenantNotBoundError,
    bind_organization,
    bind_user,
    system_scope,
)
from app.models import Membership, User
from tests.conftest import app_database, empty_tables, settings_for_test
from tests.support.factories import add_member, make_user

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Tenants:
    org_a: uuid.UUID
    org_b: uuid.UUID
    alice: uuid.UUID  # owner of A
    bob: uuid.UUID  # owner of B
    database: Database


@pytest.fixture
async def tenants(database_url: str) -> AsyncIterator[Tenants]:
    alice = await make_user(database_url, "alice@a.example.com", organization="A")
    bob = await make_user(database_url, "bob@b.example.com", organization="B")
    assert alice.org_id
    assert bob.org_id
    await add_member(database_url, org_id=alice.org_id, email="dave@a.example.com", role=Role.VIEWER)
    database = Database(settings_for_test(**app_database(database_url)))
    try:
        yield Tenants(alice.org_id, bob.org_id, alice.id, bob.id, database)
    finally:
        await database.dispose()
        await empty_tables(database_url)


async def test_nothing_bound_fails_closed(tenants: Tenants) -> None:
    async with tenants.database.unit_of_work() as session:
        with pytest.raises(TenantNotBoundError, match="Membership"):
            await session.scalars(select(Membership))
        # A join through a tenant model is a statement on it too.
        with pytest.raises(TenantNotBoundError):
            await session.scalars(select(User.email).join(Membership, Membership.user_id == User.id))
        # Non-tenant models stay reachable.
        assert await session.scalar(select(func.count()).select_from(User)) == 3


async def write(
    tenants: Tenants, membership: Membership, *, org: uuid.UUID | None = None, user: uuid.UUID | None = None
) -> None:
    """Add `membership` in a unit of work bound to `org` (or to `user`, or to nothing)."""
    async with tenants.database.unit_of_work() as session:
        if org is not None:
            await bind_organization(session, org)
        elif user is not None:
            await bind_user(session, user)
        session.add(membership)


async def count_memberships(tenants: Tenants) -> int:
    async with tenants.database.unit_of_work() as session:
        await system_scope(session, "cli")
        return len((await session.scalars(select(Membership))).all())


async def test_writing_with_nothing_bound_fails_closed(tenants: Tenants) -> None:
    with pytest.raises(TenantNotBoundError):
        await write(tenants, Membership(user_id=tenants.bob, org_id=tenants.org_a, role=Role.OWNER))
    assert await count_memberships(tenants) == 3


async def test_a_bound_session_reads_updates_and_deletes_only_its_organization(tenants: Tenants) -> None:
    async with tenants.database.unit_of_work() as session:
        await bind_organization(session, tenants.org_a)
        rows = (await session.scalars(select(Membership))).all()
        assert {row.org_id for row in rows} == {tenants.org_a}
        assert len(rows) == 2
        # No filter in the statements: the seam adds it.
        changed = await session.execute(update(Membership).values(role=Role.ADMIN))
        assert changed.rowcount == 2  # type: ignore[attr-defined]
        assert await session.get(Membership, (await _membership_id(tenants, tenants.bob))) is None
    async with tenants.database.unit_of_work() as session:
        await bind_organization(session, tenants.org_b)
        assert (await session.scalars(select(Membership.role))).all() == [Role.OWNER]
        deleted = await session.execute(delete(Membership))
        assert deleted.rowcount == 1  # type: ignore[attr-defined]
    async with tenants.database.unit_of_work() as session:
        await bind_organization(session, tenants.org_a)
        assert len((await session.scalars(select(Membership))).all()) == 2


async def _membership_id(tenants: Tenants, user_id: uuid.UUID) -> uuid.UUID:
    async with tenants.database.unit_of_work() as session:
        await system_scope(session, "cli")
        membership_id = await session.scalar(select(Membership.id).where(Membership.user_id == user_id))
    assert membership_id is not None
    return membership_id


async def test_inserts_are_stamped_and_other_organizations_refused(tenants: Tenants) -> None:
    async with tenants.database.unit_of_work() as session:
        await bind_organization(session, tenants.org_a)
        stamped = Membership(user_id=tenants.bob, role=Role.MEMBER)
        session.add(stamped)
        await session.flush()
        assert stamped.org_id == tenants.org_a
    with pytest.raises(CrossTenantWriteError):
        await write(
            tenants,
            Membership(user_id=tenants.alice, org_id=tenants.org_b, role=Role.OWNER),
            org=tenants.org_a,
        )
    assert await count_memberships(tenants) == 4


async def test_a_row_never_moves_to_another_organization(tenants: Tenants) -> None:
    async def move() -> None:
        async with tenants.database.unit_of_work() as session:
            await bind_organization(session, tenants.org_a)
            membership = await session.scalar(select(Membership).where(Membership.user_id == tenants.alice))
            assert membership is not None
            membership.org_id = tenants.org_b

    with pytest.raises(CrossTenantWriteError):
        await move()


async def test_a_bound_session_never_switches_organization(tenants: Tenants) -> None:
    async with tenants.database.unit_of_work() as session:
        await bind_organization(session, tenants.org_a)
        with pytest.raises(CrossTenantWriteError):
            await bind_organization(session, tenants.org_b)


async def test_a_user_bound_session_reads_only_their_memberships(tenants: Tenants) -> None:
    async with tenants.database.unit_of_work() as session:
        await bind_user(session, tenants.alice)
        rows = (await session.scalars(select(Membership))).all()
        assert [(row.user_id, row.org_id) for row in rows] == [(tenants.alice, tenants.org_a)]
    # and it writes nothing: a user scope names no organization to stamp
    with pytest.raises(TenantNotBoundError):
        await write(
            tenants,
            Membership(user_id=tenants.alice, org_id=tenants.org_b, role=Role.OWNER),
            user=tenants.alice,
        )


async def test_system_scopes_are_named(tenants: Tenants) -> None:
    async with tenants.database.unit_of_work() as session:
        with pytest.raises(ValueError, match="not a named system scope"):
            await system_scope(session, "just this once")
        await system_scope(session, "cli")
        assert len((await session.scalars(select(Membership))).all()) == 3
