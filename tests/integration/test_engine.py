"""The engine applies its settings on each backend: pool sizing, timeouts, SQLite pragmas."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.db.session import Database
from tests.conftest import settings_for_test

pytestmark = pytest.mark.anyio


async def test_engine_honours_pool_and_timeout_settings(database_url: str) -> None:
    settings = settings_for_test(
        database_url=database_url, db_pool_size=3, db_max_overflow=2, db_statement_timeout_ms=1234
    )
    database = Database(settings)
    try:
        pool = database.engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
        assert pool._max_overflow == 2  # type: ignore[attr-defined]
        async with database.engine.connect() as connection:
            if database.backend == "postgresql":
                assert (await connection.scalar(text("SHOW statement_timeout"))) == "1234ms"
                assert (await connection.scalar(text("SHOW application_name"))) == "invoicer"
            else:
                assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
                assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
                assert (await connection.scalar(text("PRAGMA busy_timeout"))) == 5000
    finally:
        await database.dispose()


async def test_statement_timeout_cancels_runaway_queries(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server-side statement timeout")
    database = Database(settings_for_test(database_url=database_url, db_statement_timeout_ms=100))
    try:
        async with database.engine.connect() as connection:
            with pytest.raises(Exception, match="statement timeout"):
                await connection.execute(text("SELECT pg_sleep(2)"))
    finally:
        await database.dispose()
