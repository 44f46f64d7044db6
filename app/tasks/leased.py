"""Running one attempt of a unit of durable work: lease, perform, record. The same for all kinds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger
from app.models.base import utcnow
from app.models.job import LeasedWork, WorkStatus
from app.services import leases
from app.services.leases import Outcome, RetryPolicy
from app.tasks.context import WorkerContext

logger = get_logger(__name__)
W = TypeVar("W", bound=LeasedWork)

Perform = Callable[[W], Awaitable[Outcome]]
# Extra writes in the transaction that records the outcome (a delivery's attempt row).
Record = Callable[[AsyncSession, W, Outcome, WorkStatus], Awaitable[None]]


async def run_leased(
    context: WorkerContext,
    model: type[W],
    work_id: uuid.UUID,
    *,
    task: str,
    policy: RetryPolicy,
    perform: Perform[W],
    record: Record[W] | None = None,
) -> WorkStatus | None:
    """One attempt, if the row is due; its new status, or None if there was nothing to do.

    The attempt runs outside any transaction (it may wait seconds on a remote server): the
    lease, not a row lock, keeps other workers off it. If this process dies mid-attempt, the
    lease expires and the sweeper makes the row due again: at least once, never lost.
    """
    settings = context.services.settings
    async with context.unit_of_work() as session:
        work = await leases.claim(
            session,
            model,
            work_id=work_id,
            owner=context.worker_id,
            lease_seconds=settings.job_lease_seconds,
            now=utcnow(),
        )
    if work is None:
        logger.debug("job_not_due", task=task, work_id=str(work_id))
        return None
    started = time.perf_counter()
    try:
        outcome = await perform(work)
    except Exception as error:
        # A bug or an unexpected failure: an attempt like any other, so a poison job ends dead
        # after its attempts instead of crashing the worker in a loop.
        logger.exception("job_attempt_crashed", task=task, work_id=str(work_id))
        outcome = Outcome.failure(f"{type(error).__name__}: internal error")
    async with context.unit_of_work() as session:
        status = await leases.finish(
            session, model, work=work, owner=context.worker_id, outcome=outcome, policy=policy, now=utcnow()
        )
        if status is not None and record is not None:
            await record(session, work, outcome, status)
    duration = time.perf_counter() - started
    context.metrics.duration.labels(task).observe(duration)
    context.metrics.attempts.labels(task, status.value if status is not None else "lease_lost").inc()
    if status is None:
        logger.warning("job_lease_lost", task=task, work_id=str(work_id), attempt=work.attempts)
    else:
        log = logger.info if outcome.succeeded else logger.warning
        log(
            "job_attempt",
            task=task,
            work_id=str(work_id),
            attempt=work.attempts,
            status=status.value,
            error=outcome.error,
            duration_ms=round(duration * 1000, 1),
        )
    return status
