"""Optimistic locking for versioned objects (customers, invoices): one way to write them.

Their models map a `version` column as SQLAlchemy's `version_id_col`, so every UPDATE or
DELETE is `WHERE id = ... AND version = <the version read>` and bumps it. Of two writers that
read the same version, the second matches no row: SQLAlchemy raises `StaleDataError`, which
is the client's 412 (read again, then decide), never a 500 and never a silent overwrite.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import PreconditionFailedError


async def flush_versioned(session: AsyncSession) -> None:
    """Flush the session's changes; a concurrent writer that came first is a 412."""
    try:
        await session.flush()
    except StaleDataError:
        raise PreconditionFailedError(
            "The object changed since you read it (a concurrent change came first): read it again."
        ) from None
