"""The application factory: settings, logging, middleware, routers, error handlers, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncSession

from app import __version__
from app.api.error_handlers import install_error_handlers
from app.api.middleware import build_middleware
from app.api.openapi import DESCRIPTION, TAGS, build_openapi
from app.api.routers import (
    build_api_router,
    docs,
    health,
    hosted_invoices,
    invitation_pages,
    metrics,
    pages,
    well_known,
)
from app.api.routing import operation_id
from app.clients.redis import create_redis
from app.core.config import Settings, load_settings
from app.core.lifecycle import Lifecycle
from app.core.logging import configure_logging, get_logger
from app.core.metrics import HttpMetrics, JobMetrics, forget_this_process
from app.core.tracing import create_tracer_provider, trace_database, trace_redis
from app.db.session import Database
from app.services.events import events_written
from app.tasks.runtime import JobRuntime
from app.wiring import AppServices, build_services

logger = get_logger(__name__)
OPENAPI_URL = "/openapi.json"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    lifecycle: Lifecycle = app.state.lifecycle
    database = Database(settings)
    redis = create_redis(settings)
    tracer_provider = app.state.tracer_provider
    if tracer_provider is not None:
        trace_database(database.engine, tracer_provider)
        if redis is not None:
            trace_redis(redis, tracer_provider)
    services = app.state.services = build_services(settings=settings, database=database, redis=redis)
    jobs = None
    if settings.effective_job_runner == "in_process":
        http_metrics: HttpMetrics | None = app.state.metrics
        job_metrics = JobMetrics(http_metrics.registry if http_metrics is not None else None)
        jobs = start_in_process_jobs(services, metrics=job_metrics, tracer_provider=tracer_provider)
    app.state.job_runtime = jobs
    if jobs is not None:
        await jobs.start()
    logger.info("startup", env=settings.app_env, database=settings.database_backend)
    try:
        with lifecycle.intercept_termination(settings.shutdown_drain_seconds):
            yield
    finally:
        lifecycle.begin_drain()
        if jobs is not None:
            await jobs.stop()
        else:
            await services.jobs.stop()
        await app.state.services.report_cache.close()
        if redis is not None:
            await redis.aclose()
        await database.dispose()
        forget_this_process()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # exports the spans still queued
        logger.info("shutdown_complete")


def start_in_process_jobs(
    services: AppServices, *, metrics: JobMetrics, tracer_provider: TracerProvider | None
) -> JobRuntime:
    """The embedded mode: this process runs the jobs, the relay, the sweeper and the schedule;
    the relay is woken by this process's own commits that wrote events."""
    runtime = JobRuntime(
        services, consume=True, schedule=True, metrics=metrics, tracer_provider=tracer_provider
    )

    async def wake_relay(session: AsyncSession) -> None:
        if events_written(session):
            runtime.relay.wake()

    services.database.after_commit(wake_relay)
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build an app. Without `settings`, they are loaded (and validated) from the environment."""
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, log_format=settings.effective_log_format)
    docs_enabled = settings.effective_docs_enabled
    http_metrics = HttpMetrics() if settings.metrics_enabled else None
    tracer_provider = create_tracer_provider(settings)
    app = FastAPI(
        title=settings.app_name,
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        openapi_url=OPENAPI_URL if docs_enabled else None,
        docs_url=None,
        redoc_url=None,
        debug=False,  # tracebacks never reach a response, even in dev: see the logs
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        middleware=build_middleware(settings, metrics=http_metrics, tracer_provider=tracer_provider),
    )
    app.state.settings = settings
    app.state.lifecycle = Lifecycle()
    app.state.metrics = http_metrics
    app.state.tracer_provider = tracer_provider
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(well_known.router)
    if http_metrics is not None:
        app.include_router(metrics.router)
    app.include_router(build_api_router())
    # Public: the pages emailed links open (HTML forms for people, not API operations).
    pages.install_pages(app, invitation_pages.router, hosted_invoices.router)
    if docs_enabled:
        docs.install_docs(app, openapi_url=OPENAPI_URL)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app
