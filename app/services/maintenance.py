"""Purges: rows that have served their purpose, deleted by periodic jobs (app/tasks/maintenance.py).

Each purge deletes by a condition on the rows themselves (expired, finished, older than the
retention), never by a list read earlier, so it is safe to run twice and on several
schedulers at once: a row is deleted once, and a second run finds nothing more. The large
tables are deleted in bounded batches, each its own transaction, so no purge holds locks on
many rows or one long transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Job, OneTimeToken, PeriodicRun, WorkStatus
from app.services import idempotency

BATCH = 1000


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_idempotency_keys(*, session: AsyncSession, now: datetime) -> int:
    """Stored responses past their expiry (they already read as absent)."""
    return await idempotency.purge_expired(session, now)


async def purge_one_time_tokens(*, session: AsyncSession, before: datetime, limit: int = BATCH) -> int:
    """Verification and reset tokens that expired, or were used, before `before`."""
    done = or_(OneTimeToken.expires_at < before, OneTimeToken.used_at < before)
    batch = select(OneTimeToken.id).where(done).limit(limit)
    return _count(await session.execute(delete(OneTimeToken).where(OneTimeToken.id.in_(batch))))


async def purge_finished_jobs(*, session: AsyncSession, before: datetime, limit: int = BATCH) -> int:
    """Jobs that succeeded or died before `before`; pending and running ones are never touched."""
    finished = (Job.status.in_((WorkStatus.SUCCEEDED, WorkStatus.DEAD)), Job.finished_at < before)
    batch = select(Job.id).where(*finished).limit(limit)
    return _count(await session.execute(delete(Job).where(Job.id.in_(batch))))


async def purge_periodic_runs(*, session: AsyncSession, before: datetime) -> int:
    """Records of periodic runs started before `before` (a few a day per job: no batches)."""
    return _count(await session.execute(delete(PeriodicRun).where(PeriodicRun.started_at < before)))
