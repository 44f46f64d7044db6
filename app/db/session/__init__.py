"""Engine, session factory and the unit of work: one session, one transaction per request.

The transaction rule:
- A request's only transaction is its `SessionDep` (app/api/dependencies/core.py), one unit
  of work committed after the endpoint returns. The session connects lazily, on its first
  statement, so an endpoint that hashes a password before touching it holds no connection
  while hashing. Services take that session; they never open a unit of work themselves.
- Code outside a request opens its own unit of work: the CLI, work that runs after the
  response (app/api/dependencies/background.py), and later the workers.
- `Database.autocommit()` is for reads that must not start the request's transaction, and
  has exactly these uses (tests/unit/test_layers.py holds the list):
  - the account lookup before a password check (sign-in, password change) and the reset
    link's account before its new password is hashed (app/services/auth.py, accounts.py);
  - the browser session behind a cookie, and its at-most-once-a-minute last-used touch
    (app/services/principals.py): the principal is resolved before the endpoint runs, and
    an endpoint that hashes must not find a connection already checked out for it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.errors import AppError
from app.core.logging import get_logger
from app.db.session.engine import create_engine
from app.db.session.tenancy import TenantSession, bind_organization

logger = get_logger(__name__)

# Run after a unit of work commits, with its session (e.g. the report cache's invalidation).
AfterCommit = Callable[[AsyncSession], Awaitable[None]]

logger = get_logger(__name__)


class Database:
    """Owns the engine of one process; created in the app's lifespan, disposed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        ensure_sqlite_directory(settings.database_url)
        self.backend = settings.database_backend
        self.engine: AsyncEngine = create_engine(settings)
        # expire_on_commit=False: objects stay readable after the request's single commit.
        # TenantSession: every statement on a tenant model is scoped (app/db/session/tenancy.py).
        self.session_factory = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=True, sync_session_class=TenantSession
        )
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, hook: AfterCommit) -> None:
        """Run `hook` after every unit of work that commits. It runs once the data is visible to
        others, so it suits invalidating what was computed from it; its failure is logged, never
        the request's (the commit already happened)."""
        self._after_commit.append(hook)

    async def _committed(self, session: AsyncSession) -> None:
        for hook in self._after_commit:
            try:
                await hook(session)
            except Exception:
                logger.exception("after_commit_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))

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
                    await _commit(session)
                    await self._committed(session)
                else:
                    await _roll_back(session)
                raise
            except BaseException:
                await _roll_back(session)
                raise
            await _commit(session)
            await self._committed(session)

    @asynccontextmanager
    async def tenant_reader(self, org_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """A session of its own, bound to one organization (the tenant seam and, on PostgreSQL,
        row-level security), for a read that outlives the request's unit of work: a streamed
        response is sent after the request's transaction has committed.

        It holds one connection and one transaction until the block ends, and never commits.
        The release is shielded from cancellation: a client that disconnects cancels the
        stream, and the connection must still go back to the pool at once.
        """
        session = self.session_factory()
        try:
            await bind_organization(session, org_id)
            yield session
        finally:
            with anyio.CancelScope(shield=True):
                await session.close()  # rolls the transaction back and returns the connection

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection with no transaction around its statements, for the named uses
        in this module's docstring only.

        Each statement stands alone (which also saves the BEGIN and ROLLBACK round trips a
        transaction would add); never for writes that must succeed or fail together.
        """
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()


_COMPENSATIONS = "invoicer.compensations"
_FOLLOW_UPS = "invoicer.follow_ups"
Compensation = Callable[[], Awaitable[None]]


def on_rollback(session: AsyncSession, compensation: Compensation) -> None:
    """Undo work done outside the database (an object written to storage) if this unit of
    work does not commit: it rolls back, or its commit fails. Run once, then forgotten; a
    commit forgets it too."""
    session.info.setdefault(_COMPENSATIONS, []).append(compensation)


def on_commit(session: AsyncSession, follow_up: Compensation) -> None:
    """Work outside the database that must happen only once this unit of work has committed
    (removing a deleted attachment's object): run after the commit, best effort (logged)."""
    session.info.setdefault(_FOLLOW_UPS, []).append(follow_up)


async def _commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except BaseException:
        session.info.pop(_FOLLOW_UPS, None)
        await _compensate(session)
        raise
    session.info.pop(_COMPENSATIONS, None)
    await _run(session.info.pop(_FOLLOW_UPS, []))


async def _roll_back(session: AsyncSession) -> None:
    try:
        await session.rollback()
    finally:
        await _compensate(session)


async def _compensate(session: AsyncSession) -> None:
    session.info.pop(_FOLLOW_UPS, None)
    await _run(list(reversed(session.info.pop(_COMPENSATIONS, []))))


async def _run(pending: list[Compensation]) -> None:
    # Shielded: a cancelled request (a timeout, a client gone) still cleans up after itself.
    with anyio.CancelScope(shield=True):
        for step in pending:
            try:
                await step()
            except Exception:
                logger.exception("unit_of_work_cleanup_failed")


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file (`./var/`) so a fresh checkout just runs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


__all__ = ["Database", "ensure_sqlite_directory", "on_commit", "on_rollback"]
