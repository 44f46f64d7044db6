"""Run and inspect Alembic migrations from code (CLI, readiness probe, tests)."""

from __future__ import annotations

import re
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


async def upgrade_to_head(url: str, *, api_role: str | None = None) -> None:
    """Migrate the database at `url` to the latest revision; then, on PostgreSQL, give the
    API's role (`api_role`, the user of DATABASE_URL) exactly the privileges it needs."""
    ensure_sqlite_directory(url)
    engine = new_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade)
            if api_role is not None and connection.dialect.name == "postgresql":
                await grant_api_role(connection, api_role)
            await connection.commit()
    finally:
        await engine.dispose()


# Tables the API may read and insert into but never change: the audit trail.
APPEND_ONLY_TABLES: tuple[str, ...] = ("audit_log",)
# Append-only too, but for the columns named: the outbox, whose relay stamps each event it
# has passed on (column privileges, so no UPDATE can rewrite what an event says).
APPEND_ONLY_EXCEPT_COLUMNS: dict[str, tuple[str, ...]] = {"events": ("relayed_at",)}
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def grant_api_role(connection: AsyncConnection, role: str) -> None:
    """The API's role: rows of every table (RLS still applies), no DDL, no ownership.

    Creates the role (LOGIN, no password) when it is missing and the migrating user may create
    roles; in production create it yourself first, with a password (docs/operations.md).
    Run after every migration, so new tables are covered and nothing else is granted.
    """
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"the API's database user must be a plain lower-case name, not {role!r}")
    # Another migration (a test worker, a second replica's init step) may create it meanwhile.
    await connection.execute(
        text(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {role} LOGIN; END IF; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    )
    flags = (
        await connection.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": role}
        )
    ).one()
    if flags.rolsuper or flags.rolbypassrls:
        raise ValueError(f"the API's database user {role!r} must not bypass row-level security")
    await connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    await connection.execute(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    )
    await connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    await connection.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON {VERSION_TABLE} FROM {role}"))
    for table in (*APPEND_ONLY_TABLES, *APPEND_ONLY_EXCEPT_COLUMNS):
        # Revoking the table's UPDATE revokes its column grants too: each run starts afresh.
        await connection.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}"))
    for table, columns in APPEND_ONLY_EXCEPT_COLUMNS.items():
        await connection.execute(text(f"GRANT UPDATE ({', '.join(columns)}) ON {table} TO {role}"))


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
