"""Migrations: an empty database reaches head, one head only, and the models match them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import alembic_config, current_revisions, head_revisions, upgrade_to_head
from app.models import Base
from tests.conftest import postgres_database

pytestmark = pytest.mark.anyio


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert not revision.is_merge_point, "merge migrations: rebase onto the single head instead"


def test_migration_files_are_date_slug_named() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert re.fullmatch(r"\d{4}_\d{2}_\d{2}_\d{4}-[a-z0-9_]+\.py", name), name


async def _schema_drift(url: str) -> list[Any]:
    engine = create_async_engine(url)

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            assert await current_revisions(connection) == head_revisions()
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_empty_sqlite_migrates_to_head_without_drift(sqlite_url: str) -> None:
    await upgrade_to_head(sqlite_url)
    assert await _schema_drift(sqlite_url) == []


async def test_empty_postgres_migrates_to_head_without_drift() -> None:
    async with postgres_database("invoicer_migrations") as url:
        await upgrade_to_head(url)
        await upgrade_to_head(url)  # idempotent: a second run is a no-op
        assert await _schema_drift(url) == []


def test_migrations_are_forward_only() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        with pytest.raises(RuntimeError, match="forward-only"):
            revision.module.downgrade()
