"""Invoice numbers: `INV-{YYYY}-{NNNNNN}`, per organization and year, gapless and unique.

The next number comes from one counter row per organization and year, incremented by an
upsert in the finalizing transaction itself:

- concurrent finalizations queue on that row's lock (PostgreSQL's `ON CONFLICT DO UPDATE`
  locks the row it updates until commit; SQLite serialises writers whole), so each reads the
  number the previous one committed: unique and consecutive;
- a finalization that rolls back takes its increment with it, so the number is given to the
  next one: no gap. (A database sequence would be faster but leaves a gap on every rollback.)

The lock is held from the increment to the commit, so finalizing stays short: the number is
the last thing finalizing does before its transaction commits.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import InvoiceNumberCounter
from app.models.base import new_id

_COUNTERS: Table = InvoiceNumberCounter.__table__  # type: ignore[assignment]


def format_number(year: int, sequence: int) -> str:
    return f"INV-{year:04d}-{sequence:06d}"


async def next_number(session: AsyncSession, *, org_id: uuid.UUID, year: int) -> str:
    """Take the organization's next number for `year`, in the session's transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement: Insert = (
        insert(_COUNTERS)
        .values(id=new_id(), org_id=org_id, year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[_COUNTERS.c.org_id, _COUNTERS.c.year],
            set_={"last_number": _COUNTERS.c.last_number + 1},
        )
        .returning(_COUNTERS.c.last_number)
    )
    sequence = (await session.execute(statement)).scalar_one()
    return format_number(year, sequence)
