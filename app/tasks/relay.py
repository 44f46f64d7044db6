"""The outbox relay: events committed by the API are published to the broker, then marked.

Each pass takes a batch of unrelayed events with `FOR UPDATE SKIP LOCKED` (several relays may
run: each takes rows the others have not locked), publishes one fan-out wake-up per event and
waits for the broker's confirms, then stamps `relayed_at` in the same transaction. A crash
after the publish and before the commit leaves the events unrelayed, so they are published
again: a duplicate at most, never a loss; the fan-out is idempotent (one delivery per
endpoint and event, app/tasks/webhooks.py).

It wakes on PostgreSQL's LISTEN/NOTIFY (a trigger on `events`, migration 0015) and, in
the embedded mode, on the API's own commits; and it polls every OUTBOX_POLL_SECONDS whatever
happens, so a lost notification or a dropped listening connection only adds latency.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from app.core.logging import get_logger
from app.models import Event
from app.models.base import utcnow
from app.tasks.context import WorkerContext
from app.tasks.loops import LoopFailures
from app.tasks.names import FAN_OUT_EVENT

logger = get_logger(__name__)
CHANNEL = "invoicer_events"

# A fault-injection seam for the drill "the relay crashes between publish and mark".
AfterPublish = Callable[[], Awaitable[None]]


async def relay_once(context: WorkerContext, *, after_publish: AfterPublish | None = None) -> int:
    """Relay one batch; how many events it relayed."""
    settings = context.services.settings
    async with context.unit_of_work() as session:
        batch = (
            select(Event.id, Event.traceparent)
            .where(Event.relayed_at.is_(None))
            .order_by(Event.id)
            .limit(settings.outbox_batch_size)
            .with_for_update(skip_locked=True)
        )
        rows = (await session.execute(batch)).all()
        if not rows:
            return 0
        ids = [row.id for row in rows]
        jobs = context.services.jobs
        # Each fan-out continues the trace of the request that committed its event.
        await asyncio.gather(
            *(jobs.publish(FAN_OUT_EVENT, str(row.id), traceparent=row.traceparent) for row in rows)
        )
        if after_publish is not None:
            await after_publish()
        await session.execute(
            update(Event)
            .where(Event.id.in_(ids))
            .values(relayed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    logger.debug("outbox_relayed", count=len(ids))
    return len(ids)


class Relay:
    """The relay's loop: relay, then wait for a wake-up (or the poll interval), again."""

    def __init__(self, context: WorkerContext, *, listen: bool) -> None:
        """`listen`: hold a LISTEN connection (PostgreSQL), for commits of other processes; the
        embedded mode's relay is woken by its own process's commits instead."""
        self._context = context
        self._listen_for_commits = listen
        self._wakeup = asyncio.Event()
        # Set while the relay waits with nothing pending (tests and benchmarks settle on it).
        self.idle = asyncio.Event()

    def wake(self) -> None:
        self.idle.clear()
        self._wakeup.set()

    async def run(self) -> None:
        settings = self._context.services.settings
        listens = self._listen_for_commits and settings.database_backend == "postgresql"
        listener = asyncio.create_task(self._listen()) if listens else None
        failures = LoopFailures("outbox_relay")
        try:
            while True:
                self._wakeup.clear()
                try:
                    relayed = await relay_once(self._context)
                except Exception:
                    failures.failed()
                    self.idle.set()
                    await asyncio.sleep(failures.delay(settings.outbox_poll_seconds))
                    continue
                failures.succeeded()
                if relayed >= settings.outbox_batch_size:
                    continue  # more are waiting
                if not self._wakeup.is_set():
                    self.idle.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=settings.outbox_poll_seconds)
                self.idle.clear()
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _listen(self) -> None:
        """Hold a LISTEN connection, reconnecting after a failure (polling covers the gap)."""
        settings = self._context.services.settings
        url = make_url(settings.database_url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while True:
            connection: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(dsn, timeout=10)
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, lambda *_: self._wakeup.set())
                self._wakeup.set()  # events may have arrived while we were not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("outbox_listen_failed", exc_info=True)
            finally:
                if connection is not None and not connection.is_closed():
                    await connection.close(timeout=2)
            await asyncio.sleep(settings.outbox_poll_seconds)
