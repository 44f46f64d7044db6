"""The engine applies its settings on each backend: pool sizing, timeouts, SQLite pragmas."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

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


async def _backend_pid(database: Database) -> int:
    async with database.unit_of_work() as session:
        pid: int = await session.scalar(text("SELECT pg_backend_pid()"))
        return pid


async def _terminate_backend(database_url: str, pid: int) -> None:
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            # With a timeout, PostgreSQL returns once the backend has actually exited.
            await connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        await admin.dispose()


@pytest.mark.parametrize("pre_ping", [True, False])
async def test_a_connection_that_died_in_the_pool_is_replaced_before_use(
    database_url: str, pre_ping: bool
) -> None:
    """The server ends an idle pooled connection (a restart, a failover, a proxy's idle timeout)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite connection cannot be ended from outside")
    database = Database(
        settings_for_test(
            database_url=database_url, db_pool_pre_ping=pre_ping, db_pool_pre_ping_idle_seconds=0.2
        )
    )
    try:
        first_pid = await _backend_pid(database)
        await _terminate_backend(database_url, first_pid)
        await asyncio.sleep(0.3)  # longer than the idle window: this connection gets pinged
        if pre_ping:
            assert await _backend_pid(database) != first_pid
        else:  # the control: without the ping, the request is the one that finds out
            with pytest.raises(DBAPIError):
                await _backend_pid(database)
    finally:
        await database.dispose()


async def test_statement_errors_never_quote_bound_values(database_url: str) -> None:
    """A failed statement's message shows the SQL, not the values bound to it (hashes, tokens)."""
    secret = "a-bound-value-that-is-a-token-hash-0123456789"
    database = Database(settings_for_test(database_url=database_url))
    try:
        async with database.engine.connect() as connection:
            with pytest.raises(DBAPIError) as caught:
                await connection.execute(text("SELECT :secret FROM no_such_table"), {"secret": secret})
    finally:
        await database.dispose()
    assert "no_such_table" in str(caught.value)
    assert secret not in str(caught.value)


APP_DIR = Path(__file__).resolve().parents[2] / "app"
ENGINE_FACTORIES = re.compile(
    r"\b(create_async_engine|engine_from_config|async_engine_from_config)\(|\bsqlalchemy\.create_engine\("
)


def test_every_engine_of_the_app_comes_from_one_factory() -> None:
    """So each one hides its parameters: migrations and the readiness probe included."""
    makers = {
        str(path.relative_to(APP_DIR.parent))
        for path in APP_DIR.rglob("*.py")
        if ENGINE_FACTORIES.search(path.read_text())
    }
    assert makers == {"app/db/session/engine.py"}
