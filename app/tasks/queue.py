"""`JobQueue`: how the API and the workers wake work up.

A wake-up is a message naming a task and an id. Losing one costs a delay, never the work:
the row it points at stays due, and the sweeper wakes it again after JOB_REWAKE_AFTER_SECONDS.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from app.core.logging import get_logger
from app.core.tracing import current_traceparent
from app.db.session import on_commit

logger = get_logger(__name__)
TRACEPARENT_LABEL = "traceparent"


class JobQueue:
    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker
        self._started = False
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Connect to the broker. Lazy for a process that only publishes: the API starts, and
        its commits stand, while the broker is down; the sweeper wakes what it could not."""
        async with self._starting:
            if not self._started:
                await self.broker.startup()
                self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.broker.shutdown()

    async def publish(self, task: str, *args: str, traceparent: str | None = None) -> None:
        """Publish, and return once the broker has it (RabbitMQ: a publisher confirm).

        The message carries the trace it was sent from (`traceparent`, by default the current
        span's), so the job's span continues it."""
        if not self._started:
            await self.start()
        trace = traceparent or current_traceparent()
        labels = {TRACEPARENT_LABEL: trace} if trace else {}
        kicker: AsyncKicker[..., None] = AsyncKicker(task_name=task, broker=self.broker, labels=labels)
        await kicker.kiq(*args)

    async def wake(self, task: str, work_id: uuid.UUID) -> None:
        """Best effort: a failure is logged, and the sweeper wakes the row later."""
        try:
            await self.publish(task, str(work_id))
        except Exception:
            logger.warning("job_wake_failed", task=task, work_id=str(work_id), exc_info=True)

    def wake_after_commit(self, session: AsyncSession, task: str, work_id: uuid.UUID) -> None:
        """Wake the row once this unit of work commits (before that, a worker would not see it)."""

        async def wake() -> None:
            await self.wake(task, work_id)

        on_commit(session, wake)
