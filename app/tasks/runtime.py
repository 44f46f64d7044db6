"""`JobRuntime`: runs durable work in this process.

- `invoicer worker` (full mode): consumes the broker's queue, and runs the outbox relay and
  the sweeper beside it.
- The API in the embedded mode (JOB_RUNNER=in_process): taskiq's in-memory broker runs each
  task as the API publishes it, and the relay, the sweeper and the periodic schedule run as
  tasks of the API's lifespan, so `make run` needs nothing else.

The API in the full mode runs none of this: it only publishes (app/tasks/queue.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from structlog.contextvars import bound_contextvars
from taskiq import AsyncBroker, Context, TaskiqDepends, TaskiqScheduler
from taskiq.api import run_receiver_task, run_scheduler_task
from taskiq.schedule_sources import LabelScheduleSource

from app.clients.webhooks import create_webhook_client
from app.core.logging import get_logger
from app.core.metrics import JobMetrics
from app.core.tracing import continued_trace
from app.tasks import catalogue
from app.tasks.broker import InProcessBroker
from app.tasks.context import WorkerContext, new_worker_id
from app.tasks.loops import LoopFailures
from app.tasks.periodic import run_periodic
from app.tasks.queue import TRACEPARENT_LABEL
from app.tasks.registry import PERIODIC_TASKS, WORK_TASKS, PeriodicTask, WorkTask
from app.tasks.relay import Relay
from app.tasks.sweeper import measure_backlog, sweep_once
from app.wiring import AppServices

logger = get_logger(__name__)
# How often the backlog gauges are refreshed (two small counts per table).
BACKLOG_MEASURE_SECONDS = 5.0
assert catalogue.TASK_MODULES  # imported for its registrations


def register_tasks(
    broker: AsyncBroker, context: Callable[[], WorkerContext], in_flight: set[asyncio.Task[Any]] | None = None
) -> None:
    """Every task, on `broker`. `context` is read when a task runs: a process that only
    publishes or schedules never builds one. `in_flight` collects the running ones."""

    @contextlib.contextmanager
    def tracked() -> Iterator[None]:
        task = asyncio.current_task()
        if in_flight is None or task is None:
            yield
            return
        in_flight.add(task)
        try:
            yield
        finally:
            in_flight.discard(task)

    def traced(name: str, message: Context, attributes: dict[str, str]) -> AbstractContextManager[None]:
        # The job's span continues the trace of whoever published it (a request, the relay).
        traceparent = message.message.labels.get(TRACEPARENT_LABEL)
        return continued_trace(
            context().tracer_provider,
            f"job {name}",
            traceparent=str(traceparent) if traceparent else None,
            attributes={"job.task": name, **attributes},
        )

    def work(spec: WorkTask) -> Callable[..., Awaitable[None]]:
        async def run(work_id: str, message: Context = TaskiqDepends()) -> None:  # noqa: B008 - taskiq's injection
            try:
                parsed = uuid.UUID(work_id)
            except (ValueError, TypeError):
                # A poison message: no row can be behind it. Acknowledged and dropped.
                logger.error("job_message_invalid", task=spec.name)
                return
            with (
                tracked(),
                traced(spec.name, message, {"job.id": work_id}),
                bound_contextvars(work_id=work_id),  # on every log line of the job
            ):
                await spec.handler(context(), parsed)

        return run

    def periodic(spec: PeriodicTask) -> Callable[..., Awaitable[None]]:
        async def run(message: Context = TaskiqDepends()) -> None:  # noqa: B008 - taskiq's injection
            with tracked(), traced(spec.name, message, {}):
                await run_periodic(context(), spec)

        return run

    for name, spec in WORK_TASKS.items():
        broker.register_task(work(spec), task_name=name)
    for name, periodic_spec in PERIODIC_TASKS.items():
        broker.register_task(periodic(periodic_spec), task_name=name, schedule=[{"cron": periodic_spec.cron}])


def create_scheduler(broker: AsyncBroker) -> TaskiqScheduler:
    return TaskiqScheduler(broker=broker, sources=[LabelScheduleSource(broker)])


class JobRuntime:
    """Started and stopped by its process; `consume`: read the broker's queue (a worker)."""

    def __init__(
        self,
        services: AppServices,
        *,
        consume: bool,
        schedule: bool,
        metrics: JobMetrics | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.services = services
        self.context = WorkerContext(
            services=services,
            worker_id=new_worker_id(),
            http=create_webhook_client(services.settings),
            metrics=metrics or JobMetrics(),
            tracer_provider=tracer_provider,
        )
        # The embedded mode (no broker to consume) is woken by its own commits, not LISTEN.
        self.relay = Relay(self.context, listen=not isinstance(services.jobs.broker, InProcessBroker))
        self._consume = consume
        self._schedule = schedule
        self._loops: list[asyncio.Task[None]] = []
        self._receiver: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()

    @property
    def consuming(self) -> bool:
        """A worker's receiver is running (it ends only when stopped or broken)."""
        return self._receiver is not None and not self._receiver.done()

    @property
    def broker(self) -> AsyncBroker:
        return self.services.jobs.broker

    async def start(self) -> None:
        broker = self.broker
        register_tasks(broker, lambda: self.context, self._in_flight)
        if self._consume:
            broker.is_worker_process = True
        await self.services.jobs.start()
        settings = self.services.settings
        if self._consume and not isinstance(broker, InProcessBroker):
            self._receiver = asyncio.create_task(
                run_receiver_task(broker, max_async_tasks=settings.worker_concurrency, run_startup=False)
            )
        self._spawn("outbox_relay", self.relay.run())
        self._spawn("sweeper", self._sweep_forever())
        if self._schedule:
            self._spawn("scheduler", run_scheduler_task(create_scheduler(broker)))
        logger.info("job_runtime_started", worker_id=self.context.worker_id, consume=self._consume)

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=name)
        self._loops.append(task)

    async def _sweep_forever(self) -> None:
        interval = self.services.settings.job_sweep_interval_seconds
        loop = asyncio.get_running_loop()
        last_measured = loop.time()  # the first measure after BACKLOG_MEASURE_SECONDS
        failures = LoopFailures("sweeper")
        while True:
            # A pause first: at start-up the relay's first pass and the requests wake what is
            # new, and what is overdue can wait one interval.
            await asyncio.sleep(failures.delay(interval))
            try:
                await sweep_once(self.context)
                if loop.time() - last_measured >= BACKLOG_MEASURE_SECONDS:
                    last_measured = loop.time()
                    await measure_backlog(self.context)
            except Exception:
                failures.failed()
            else:
                failures.succeeded()

    async def stop(self) -> None:
        """Stop taking work, let running jobs finish (up to WORKER_SHUTDOWN_SECONDS), close."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._receiver is not None:
            self._receiver.cancel()
            await asyncio.gather(self._receiver, return_exceptions=True)
        await self._drain(grace=timedelta(seconds=self.services.settings.worker_shutdown_seconds))
        with contextlib.suppress(Exception):
            await self.services.jobs.stop()
        await self.context.http.aclose()
        logger.info("job_runtime_stopped", worker_id=self.context.worker_id)

    def _running(self) -> set[asyncio.Task[Any]]:
        broker = self.broker
        started = broker.running if isinstance(broker, InProcessBroker) else set()
        return self._in_flight | started

    async def _drain(self, *, grace: timedelta) -> None:
        if running := self._running():
            await asyncio.wait(running, timeout=grace.total_seconds())

    async def settle(self, *, timeout_seconds: float = 10.0) -> None:
        """Wait until no task runs, including any a finishing one started (an event's fan-out
        starting its deliveries). For tests and the benchmark: the API never waits on jobs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while (running := self._running()) or not self.relay.idle.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if running:
                await asyncio.wait(running, timeout=remaining)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.relay.idle.wait(), timeout=remaining)
