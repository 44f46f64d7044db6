"""Async engine creation: pool sizing, timeouts and per-backend connection settings."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.core.config import Settings


def new_async_engine(url: str, **options: Any) -> AsyncEngine:
    """Every engine of the app is made here (the API's, migrations', the readiness probe's).

    `hide_parameters`: bound values (password hashes, token hashes, emails) stay out of
    exception messages and of DB_ECHO's statement log.
    """
    return create_async_engine(url, hide_parameters=True, **options)


def create_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    url = url or settings.database_url
    engine = _sqlite_engine(settings, url) if url.startswith("sqlite") else _postgres_engine(settings, url)
    if settings.db_pool_pre_ping:
        ping_connections_idle_for(engine, settings.db_pool_pre_ping_idle_seconds)
    return engine


def ping_connections_idle_for(engine: AsyncEngine, idle_seconds: float) -> None:
    """SQLAlchemy's pre-ping, skipped for connections that were in use moments ago.

    A connection can die while it sits in the pool (a database restart or failover, an idle
    timeout in a proxy), so one that waited a while is pinged before it is handed out; a dead
    one invalidates the pool and the checkout retries on a fresh connection. A connection back
    from a request `idle_seconds` ago is trusted, as HikariCP's alive-bypass window does: under
    load that saves a round trip on every checkout (two per sign-in, bench/login.py).
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _remember_return(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _ping_if_idle(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        # `info` is emptied when a connection is replaced, so a fresh one is never pinged.
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise InvalidatePoolError(f"pre-ping failed: {error!r}") from error


def _postgres_engine(settings: Settings, url: str) -> AsyncEngine:
    server_settings = {"application_name": "invoicer"}
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return new_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        echo=settings.db_echo,
        connect_args={
            "server_settings": server_settings,
            "timeout": settings.db_connect_timeout_seconds,
        },
    )


def _sqlite_engine(settings: Settings, url: str) -> AsyncEngine:
    engine = new_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        echo=settings.db_echo,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
    )
    busy_timeout_ms = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor: Any = dbapi_connection.cursor()
        # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
