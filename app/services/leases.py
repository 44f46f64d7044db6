"""The rules of durable work (app/models/job.py), the same for every kind: one place.

A unit of work moves `pending` → `running` (leased) → `succeeded`, or back to `pending` with
its next attempt scheduled, or `dead` once out of attempts. Every move is one conditional
UPDATE, so two workers woken for the same row (a duplicate wake-up, a sweeper and a retry)
cannot both take it: the second finds it not due, or leased, and does nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.job import LeasedWork, WorkStatus

W = TypeVar("W", bound=LeasedWork)
ERROR_LENGTH = 1000
LEASE_EXPIRED = "the worker stopped during this attempt (its lease expired)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`schedule[n]` seconds between attempt n+1 and n+2; so `len(schedule) + 1` attempts."""

    schedule: tuple[float, ...]
    # Each delay is spread by up to this fraction either way, so failures that happened
    # together (a receiver's outage) are not all retried in the same second.
    jitter: float = 0.2
    # A receiver's Retry-After is honoured up to this long.
    max_retry_after_seconds: float = 24 * 3600

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay_after(self, attempt: int, *, retry_after: float | None = None) -> float:
        base = self.schedule[min(attempt, len(self.schedule)) - 1]
        delay = base * (1 + random.uniform(-self.jitter, self.jitter))  # noqa: S311 - not a secret
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after_seconds))
        return delay


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt came to. `give_up`: no further attempt can succeed (410 Gone, a payload
    that cannot be read): dead now, whatever attempts remain."""

    succeeded: bool
    error: str | None = None
    retry_after: float | None = None
    give_up: bool = False

    @classmethod
    def success(cls) -> Outcome:
        return cls(succeeded=True)

    @classmethod
    def failure(cls, error: str, *, retry_after: float | None = None, give_up: bool = False) -> Outcome:
        return cls(succeeded=False, error=error[:ERROR_LENGTH], retry_after=retry_after, give_up=give_up)


def _due(model: type[LeasedWork], now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(model.status == WorkStatus.PENDING, model.next_attempt_at <= now),
        and_(
            model.status == WorkStatus.RUNNING,
            model.lease_expires_at < now,
            model.attempts < model.max_attempts,
        ),
    )


async def claim(
    session: AsyncSession,
    model: type[W],
    *,
    work_id: uuid.UUID,
    owner: str,
    lease_seconds: float,
    now: datetime,
) -> W | None:
    """Lease the row if it is due (or its lease expired), counting the attempt; else None."""
    statement = (
        update(model)
        .where(model.id == work_id, _due(model, now))  # type: ignore[attr-defined]
        .values(
            status=WorkStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=model.attempts + 1,
        )
        .returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def finish(
    session: AsyncSession,
    model: type[W],
    *,
    work: W,
    owner: str,
    outcome: Outcome,
    policy: RetryPolicy,
    now: datetime,
) -> WorkStatus | None:
    """Record the attempt's outcome, if `owner` still holds the lease; the new status, or None
    when the lease was lost (it expired and another worker took the row: theirs to record)."""
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "last_error": outcome.error}
    if outcome.succeeded:
        status = WorkStatus.SUCCEEDED
    elif outcome.give_up or work.attempts >= work.max_attempts:
        status = WorkStatus.DEAD
    else:
        status = WorkStatus.PENDING
        delay = policy.delay_after(work.attempts, retry_after=outcome.retry_after)
        values |= {"next_attempt_at": now + timedelta(seconds=delay), "enqueued_at": None}
    if status is not WorkStatus.PENDING:
        values["finished_at"] = now
    statement = (
        update(model)
        .where(
            model.id == work.id,  # type: ignore[attr-defined]
            model.status == WorkStatus.RUNNING,
            model.lease_owner == owner,
        )
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return status if result.rowcount else None  # type: ignore[attr-defined]


async def release_expired(session: AsyncSession, model: type[LeasedWork], *, now: datetime) -> int:
    """Leases whose worker vanished: back to pending (due now), or dead if that was the last
    attempt. Returns how many rows moved."""
    expired = and_(model.status == WorkStatus.RUNNING, model.lease_expires_at < now)
    # A read first: this runs every second, and on SQLite an UPDATE takes the write lock even
    # when it matches nothing.
    if await session.scalar(select(model.id).where(expired).limit(1)) is None:  # type: ignore[attr-defined]
        return 0
    released = 0
    for exhausted, status in ((False, WorkStatus.PENDING), (True, WorkStatus.DEAD)):
        bound = model.attempts >= model.max_attempts if exhausted else model.attempts < model.max_attempts
        values: dict[str, Any] = {"status": status, "lease_owner": None, "lease_expires_at": None}
        values |= {"last_error": LEASE_EXPIRED, "enqueued_at": None}
        values |= {"finished_at": now} if exhausted else {"next_attempt_at": now}
        result = await session.execute(
            update(model).where(expired, bound).values(**values).execution_options(synchronize_session=False)
        )
        released += result.rowcount  # type: ignore[attr-defined]
    return released


async def take_due(
    session: AsyncSession, model: type[LeasedWork], *, now: datetime, rewake_after_seconds: float, limit: int
) -> list[uuid.UUID]:
    """Pending rows that are due and have no live wake-up: stamped `enqueued_at`, to be woken
    once this transaction commits. Rows locked by another sweeper are skipped (PostgreSQL)."""
    stale = now - timedelta(seconds=rewake_after_seconds)
    query = (
        select(model.id)  # type: ignore[attr-defined]
        .where(
            model.status == WorkStatus.PENDING,
            model.next_attempt_at <= now,
            or_(model.enqueued_at.is_(None), model.enqueued_at < stale),
        )
        .order_by(model.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(await session.scalars(query))
    if ids:
        await session.execute(
            update(model)
            .where(model.id.in_(ids))  # type: ignore[attr-defined]
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


async def reopen(
    session: AsyncSession, model: type[LeasedWork], *, where: Sequence[ColumnElement[bool]], now: datetime
) -> list[uuid.UUID]:
    """Dead rows matching `where` start again from their first attempt (a replay); their ids."""
    result = await session.scalars(
        update(model)
        .where(model.status == WorkStatus.DEAD, *where)
        .values(
            status=WorkStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            enqueued_at=now,
            finished_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(model.id)  # type: ignore[attr-defined]
        .execution_options(synchronize_session=False)
    )
    return list(result)
