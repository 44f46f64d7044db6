"""Run and inspect Alembic migrations from code (CLI, readiness probe, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from app.db.session import ensure_sqlite_directory
from app.db.session.engine import new_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s"
    )
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade_to_head(url: str) -> None:
    """Migrate the database at `url` to the latest revision."""
    ensure_sqlite_directory(url)
    engine = new_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade)
            await connection.commit()
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revisions(connection: AsyncConnection) -> set[str]:
    """The revisions recorded in the database; empty when it was never migrated.

    A plain query (not a MigrationContext): cheap and quiet enough for every readiness probe.
    """
    has_table = await connection.run_sync(
        lambda sync_connection: inspect(sync_connection).has_table(VERSION_TABLE)
    )
    if not has_table:
        return set()
    rows = await connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return {row[0] for row in rows}
