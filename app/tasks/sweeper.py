"""The sweeper: the reason a lost wake-up or a killed worker costs a delay, never the work.

Each pass, for every kind of durable work: leases whose holder vanished go back to pending
(or dead, if that was the last attempt), and due rows without a live wake-up are woken.
Retries are woken this way too: a failed attempt only writes its next time. Several sweepers
may run (one per worker): their scans skip each other's locked rows, and a duplicate wake-up
finds the row already leased.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.logging import get_logger
from app.models import Job
from app.models.base import utcnow
from app.models.job import LeasedWork
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
