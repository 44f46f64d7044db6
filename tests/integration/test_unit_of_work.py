"""One transaction per request: committed once after the endpoint, rolled back on any error."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.api.dependencies.core import SessionDep
from app.core.errors import ConflictError
from app.models import Organization
from tests.conftest import ClientFactory

pytestmark = pytest.mark.anyio


def add_writer_routes(app: FastAPI) -> None:
    router = APIRouter(prefix="/uow")

    @router.post("/ok", status_code=201)
    async def ok(session: SessionDep) -> dict[str, str]:
        session.add(Organization(name="Kept", slug="kept"))
        return {"status": "created"}

    @router.post("/domain-error")
    async def domain_error(session: SessionDep) -> None:
        session.add(Organization(name="Dropped", slug="dropped-1"))
        await session.flush()  # the row reached the database inside the transaction...
        raise ConflictError("refused")  # ...and is rolled back with it

    @router.post("/crash")
    async def crash(session: SessionDep) -> None:
        session.add(Organization(name="Dropped", slug="dropped-2"))
        await session.flush()
        raise RuntimeError("boom")

    @router.post("/commit-fails")
    async def commit_fails(session: SessionDep) -> dict[str, str]:
        # Unique violation surfaces at commit, after the endpoint returned: the client must
        # get an error, not the 201 the endpoint produced.
        session.add(Organization(name="Dup", slug="kept"))
        return {"status": "created"}

    app.include_router(router)


async def slugs(database_url: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return sorted((await connection.scalars(select(Organization.slug))).all())
    finally:
        await engine.dispose()


async def test_commit_on_success_rollback_on_error(make_client: ClientFactory, database_url: str) -> None:
    async with make_client(configure=add_writer_routes) as client:
        assert (await client.post("/uow/ok")).status_code == 201
        assert (await client.post("/uow/domain-error")).status_code == 409
        assert (await client.post("/uow/crash")).status_code == 500
        failed_commit = await client.post("/uow/commit-fails")
    assert failed_commit.status_code == 500
    assert failed_commit.headers["content-type"] == "application/problem+json"
    assert await slugs(database_url) == ["kept"]


async def test_rows_are_counted_after_commit(make_client: ClientFactory, database_url: str) -> None:
    async with make_client(configure=add_writer_routes) as client:
        await client.post("/uow/ok")
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Organization)) == 1
    await engine.dispose()


async def test_relationships_never_load_implicitly(database_url: str, make_client: ClientFactory) -> None:
    """lazy="raise": touching an unloaded relationship fails loudly instead of an N+1 query."""
    from sqlalchemy.exc import InvalidRequestError

    from app.db.session import Database
    from tests.conftest import settings_for_test

    database = Database(settings_for_test(database_url=database_url))
    try:
        async with database.unit_of_work() as session:
            session.add(Organization(name="Lazy", slug="lazy"))
        async with database.unit_of_work() as session:
            organization = await session.scalar(select(Organization).where(Organization.slug == "lazy"))
            assert organization is not None
            with pytest.raises(InvalidRequestError, match="lazy='raise'"):
                _ = organization.memberships
    finally:
        await database.dispose()
