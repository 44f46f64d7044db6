"""`invoicer worker` and `invoicer scheduler`: the processes of the full mode.

A worker consumes the broker's queue and runs the outbox relay and the sweeper beside it;
run as many as the work needs (each relay and sweeper skips the rows another has locked).
The scheduler sends the periodic tasks on their cron schedules; running two is safe (each
run is claimed once per slot), so a standby can run beside the active one.

Both stop on SIGTERM or SIGINT: the worker stops taking messages, lets running jobs finish
for up to WORKER_SHUTDOWN_SECONDS, and exits; a job cut off then is taken up again after its
lease expires. A worker's health (WORKER_HEALTH_PORT) is a tiny HTTP server of its own:
`/livez` (the event loop answers), `/readyz` (the database answers and the broker connection
that consumes is open: 503 otherwise) and `/metrics` (Prometheus, the jobs' metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from taskiq.api import run_scheduler_task
from taskiq_aio_pika import AioPikaBroker

from app.clients.redis import create_redis
from app.core.config import Settings
from app.core.logging import get_logger
from app.core.metrics import JobMetrics
from app.core.tracing import create_tracer_provider, trace_database
from app.db.session import Database
from app.tasks.runtime import JobRuntime, create_scheduler, register_tasks
from app.wiring import AppServices, build_services

logger = get_logger(__name__)


@asynccontextmanager
async def process_services(settings: Settings) -> AsyncIterator[AppServices]:
    database = Database(settings)
    redis = create_redis(settings)
    services = build_services(settings=settings, database=database, redis=redis)
    try:
        yield services
    finally:
        await services.report_cache.close()
        if redis is not None:
            await redis.aclose()
        await database.dispose()


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or stop_on_signals()
    tracer_provider = create_tracer_provider(settings)
    async with process_services(settings) as services:
        if tracer_provider is not None:
            trace_database(services.database.engine, tracer_provider)
        runtime = JobRuntime(services, consume=True, schedule=False, tracer_provider=tracer_provider)
        health = await start_health_server(runtime, settings.worker_health_port)
        try:
            await runtime.start()
            logger.info("worker_started", worker_id=runtime.context.worker_id, queue=settings.broker_queue)
            await stop.wait()
            logger.info("worker_stopping", grace_seconds=settings.worker_shutdown_seconds)
            await runtime.stop()
        finally:
            if health is not None:
                health.close()
                await health.wait_closed()
            if tracer_provider is not None:
                tracer_provider.shutdown()


async def run_scheduler(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Send each periodic task when due; the workers run them."""
    stop = stop or stop_on_signals()
    async with process_services(settings) as services:
        broker = services.jobs.broker

        def no_context() -> JobRuntime:
            raise RuntimeError("the scheduler sends tasks; it never runs one")

        register_tasks(broker, no_context)  # type: ignore[arg-type]
        await services.jobs.start()
        scheduling = asyncio.create_task(run_scheduler_task(create_scheduler(broker)))
        logger.info("scheduler_started", queue=settings.broker_queue)
        try:
            await stop.wait()
        finally:
            scheduling.cancel()
            await asyncio.gather(scheduling, return_exceptions=True)
            await services.jobs.stop()


async def is_ready(runtime: JobRuntime) -> bool:
    broker = runtime.broker
    if isinstance(broker, AioPikaBroker):
        consumer = broker.read_conn
        # A robust connection is not "closed" while it reconnects: ask whether it is connected.
        if consumer is None or not consumer.connected.is_set() or not runtime.consuming:
            return False
    try:
        async with asyncio.timeout(runtime.services.settings.health_check_timeout_seconds):
            async with runtime.services.database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def start_health_server(runtime: JobRuntime, port: int | None) -> asyncio.Server | None:
    """GET /livez, /readyz and /metrics on `port` (loopback and pod networks: no auth, no body
    beyond a word or the metrics; anything else is 404)."""
    if port is None:
        return None
    metrics: JobMetrics = runtime.context.metrics

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: read and ignored
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 and parts[0] == "GET" else ""
            content_type = "text/plain; charset=utf-8"
            if path == "/livez":
                status, body = "200 OK", b"ok\n"
            elif path == "/readyz":
                ready = await is_ready(runtime)
                status, body = (
                    ("200 OK", b"ready\n") if ready else ("503 Service Unavailable", b"not ready\n")
                )
            elif path == "/metrics":
                status, body = "200 OK", metrics.exposition()
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            else:
                status, body = "404 Not Found", b"not found\n"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    host = runtime.services.settings.host
    return await asyncio.start_server(handle, host=host, port=port)
