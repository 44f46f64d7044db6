"""Alembic environment (async). Used by `invoicer migrate`, by tests, and by `alembic` itself."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from app.core.config import load_settings
from app.db.session.engine import new_async_engine
from app.models import Base

target_metadata = Base.metadata


def run_migrations_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    engine = new_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations_on)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        # Called from code that already holds a connection (app.db.migrate, tests).
        run_migrations_on(connection)
        return
    url = config.attributes.get("url") or load_settings().effective_migration_database_url
    asyncio.run(run_async_migrations(url))


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run them against a database.")
main()
