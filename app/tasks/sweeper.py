"""The sweeper: the reason a lost wake-up or a killed worker costs a delay, never the work.

Each pass, for every kind of durable work: leases whose holder vanished go back to pending
(or dead, if that was the last attempt), and due rows without a live wake-up are woken.
Retries are woken this way too: a failed attempt only writes its next time. Several sweepers
may run (one per worker): their scans skip each other's locked rows, and a duplicate wake-up
finds the row already leased.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.core.logging import get_logger
from app.models import Event, Job
from app.models.base import utcnow
from app.models.job import LeasedWork, WorkStatus
from app.services import leases
from app.tasks.context import WorkerContext
from app.tasks.names import SEND_EMAIL

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SweptWork:
    model: type[LeasedWork]
    task: str  # the task a row of `model` is woken with


SWEPT: list[SweptWork] = [SweptWork(Job, SEND_EMAIL)]
BATCH = 500


def sweep_also(model: type[LeasedWork], task: str) -> None:
    """Register another kind of durable work (at import of its task module)."""
    if all(swept.model is not model for swept in SWEPT):
        SWEPT.append(SweptWork(model, task))


async def sweep_once(context: WorkerContext) -> int:
    """One pass; the number of rows woken."""
    settings = context.services.settings
    woken = 0
    for swept in SWEPT:
        now = utcnow()
        async with context.unit_of_work() as session:
            released = await leases.release_expired(session, swept.model, now=now)
            due = await leases.take_due(
                session,
                swept.model,
                now=now,
                rewake_after_seconds=settings.job_rewake_after_seconds,
                limit=BATCH,
            )
        if released:
            logger.warning("job_leases_expired", task=swept.task, count=released)
        for work_id in due:
            await context.services.jobs.wake(swept.task, work_id)
        woken += len(due)
    return woken


async def measure_backlog(context: WorkerContext) -> None:
    """The queue's depth and age, for the gauges: from the database, where the truth is."""
    metrics = context.metrics
    now = utcnow()
    async with context.unit_of_work() as session:
        for swept in SWEPT:
            model = swept.model
            table = model.__tablename__  # type: ignore[attr-defined]
            pending = model.status == WorkStatus.PENDING
            count = await session.scalar(select(func.count()).where(pending))
            oldest = await session.scalar(select(func.min(model.next_attempt_at)).where(pending))
            metrics.backlog.labels(table).set(count or 0)
            metrics.oldest_due_age.labels(table).set(max((now - oldest).total_seconds(), 0) if oldest else 0)
        unrelayed = Event.relayed_at.is_(None)
        metrics.outbox_backlog.set(await session.scalar(select(func.count()).where(unrelayed)) or 0)
        oldest_event = await session.scalar(select(func.min(Event.occurred_at)).where(unrelayed))
        metrics.outbox_age.set((now - oldest_event).total_seconds() if oldest_event else 0)
