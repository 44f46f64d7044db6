"""`invoicer seed-demo`: the documented logins exist, verified, with their roles; idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.security.passwords import PasswordHasher
from app.db.session import Database
from app.db.session.tenancy import system_scope
from app.models import Membership, Organization, User
from app.services.demo import DEMO_USERS, seed_demo_data
from tests.conftest import ClientFactory, settings_for_test
from tests.support.accounts import login

pytestmark = pytest.mark.anyio


async def seed(settings: Settings) -> str:
    database = Database(settings)
    try:
        async with database.unit_of_work() as session:
            await system_scope(session, "cli")  # as the CLI does
            return await seed_demo_data(
                session=session, hasher=PasswordHasher.from_settings(settings), settings=settings
            )
    finally:
        await database.dispose()


async def test_seed_is_idempotent_and_the_logins_work(make_client: ClientFactory, database_url: str) -> None:
    settings = settings_for_test(database_url=database_url, demo_password="a demo password for tests")
    first, second = await seed(settings), await seed(settings)
    assert "6 new users" in first
    assert "0 new users" in second
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(User.email, Organization.slug, Membership.role, User.email_verified_at)
                .join(Membership, Membership.user_id == User.id)
                .join(Organization, Organization.id == Membership.org_id)
            )
        ).all()
    await engine.dispose()
    assert sorted((r.email, r.slug, r.role) for r in rows) == sorted(
        (email, slug, role.value) for email, _, slug, role in DEMO_USERS
    )
    assert all(r.email_verified_at is not None for r in rows)
    async with make_client() as client:
        response = await login(client, "owner@acme.example.com", "a demo password for tests")
    assert response.status_code == 200
