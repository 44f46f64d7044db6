"""Periodic jobs, run at most once per slot however many schedulers send them.

The scheduler (`invoicer scheduler`, or the API's in-process one in the embedded mode) sends
each periodic task on its cron schedule. Before doing anything the task inserts its
(name, slot) row in `periodic_runs`, where the slot is the minute it was due: the first insert
wins, and a second scheduler's message, or a redelivery, finds the row and does nothing. Each
job is also written to be safe to run twice (its own conditions make a second run a no-op),
so a run that crashed after its work but before recording it costs nothing.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import Insert, Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger
from app.models import PeriodicRun
from app.models.base import utcnow
from app.tasks.context import WorkerContext
from app.tasks.registry import PeriodicTask

logger = get_logger(__name__)
_RUNS: Table = PeriodicRun.__table__  # type: ignore[assignment]


def slot_of(moment: datetime) -> str:
    """The minute a run belongs to: schedules fire on minute boundaries (cron)."""
    return moment.replace(second=0, microsecond=0).isoformat()


async def claim_slot(session: AsyncSession, *, name: str, slot: str) -> bool:
    """True for the first caller with this (name, slot), False for any other."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement: Insert = (
        insert(_RUNS).values(name=name, slot=slot, started_at=utcnow()).on_conflict_do_nothing()
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def run_periodic(context: WorkerContext, task: PeriodicTask, *, slot: str | None = None) -> bool:
    """Run `task` unless its slot was already claimed; whether it ran."""
    slot = slot or slot_of(utcnow())
    async with context.unit_of_work() as session:
        claimed = await claim_slot(session, name=task.name, slot=slot)
    if not claimed:
        logger.info("periodic_skipped", task=task.name, slot=slot, reason="already run in this slot")
        return False
    started = time.perf_counter()
    outcome = "ok"
    try:
        await task.handler(context)
    except Exception as error:
        outcome = f"{type(error).__name__}: failed"
        logger.exception("periodic_failed", task=task.name, slot=slot)
    async with context.unit_of_work() as session:
        await session.execute(
            update(PeriodicRun)
            .where(PeriodicRun.name == task.name, PeriodicRun.slot == slot)
            .values(finished_at=utcnow(), outcome=outcome)
        )
    logger.info(
        "periodic_run",
        task=task.name,
        slot=slot,
        outcome=outcome,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return True
