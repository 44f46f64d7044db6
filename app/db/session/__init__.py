"""Engine, session factory and the unit of work: one session, one transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.errors import AppError
from app.db.session.engine import create_engine


class Database:
    """Owns the engine of one process; created in the app's lifespan, disposed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        ensure_sqlite_directory(settings.database_url)
        self.backend = settings.database_backend
        self.engine: AsyncEngine = create_engine(settings)
        # expire_on_commit=False: objects stay readable after the request's single commit.
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """Commit once if the block succeeds; roll back on any error, cancellation included.

        The one exception: an `AppError` flagged `commit_transaction` (a refusal that is itself
        a state change, like revoking a reused refresh token's family) commits, then propagates.
        """
        async with self.session_factory() as session:
            try:
                yield session
            except AppError as error:
                if error.commit_transaction:
                    await session.commit()
                else:
                    await session.rollback()
                raise
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection with no transaction around its statements.

        For a single read outside any unit of work, such as the credential lookup before a
        password check: each statement stands alone, which saves the BEGIN and ROLLBACK round
        trips a transaction would add. Never for writes that must succeed or fail together.
        """
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file (`./var/`) so a fresh checkout just runs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


__all__ = ["Database", "ensure_sqlite_directory"]
