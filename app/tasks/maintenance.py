"""Periodic jobs: the daily overdue scan and the purges. Each only calls its service
(app/services/overdue.py, app/services/maintenance.py) in units of work of the worker.

A run is claimed once per slot (app/tasks/periodic.py), and each job is idempotent besides:
it acts on a condition of the rows, so running it twice, or on two schedulers at once, does
the work once. Crons are UTC.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger
from app.models.base import utc_today, utcnow
from app.services import maintenance, overdue
from app.tasks.context import WorkerContext
from app.tasks.names import (
    PURGE_FINISHED_JOBS,
    PURGE_IDEMPOTENCY_KEYS,
    PURGE_ONE_TIME_TOKENS,
    PURGE_PERIODIC_RUNS,
    SCAN_OVERDUE_INVOICES,
)
from app.tasks.registry import periodic_task

logger = get_logger(__name__)
OVERDUE_BATCH = 200


@periodic_task(SCAN_OVERDUE_INVOICES, cron="30 0 * * *")
async def scan_overdue_invoices(context: WorkerContext) -> None:
    """Every open invoice due before today (UTC) gets its `invoice.overdue`, once."""
    services = context.services
    settings = services.settings
    reminders = overdue.ReminderSettings(
        mailer=services.mailer,
        hasher=services.invoice_link_hasher,
        base_url=settings.public_base_url,
        locale=settings.invoice_pdf_locale,
        feature_defaults=settings.feature_defaults,
    )
    announced = reminded = 0
    while True:
        async with context.unit_of_work() as session:
            batch = await overdue.announce_overdue(
                session=session, today=utc_today(), now=utcnow(), limit=OVERDUE_BATCH, reminders=reminders
            )
        announced, reminded = announced + batch.announced, reminded + batch.reminded
        if batch.announced < OVERDUE_BATCH:
            break
    logger.info("overdue_scanned", announced=announced, reminded=reminded)


async def _in_batches(
    context: WorkerContext, name: str, purge: Callable[[AsyncSession], Awaitable[int]], *, batch: int
) -> None:
    total = 0
    while True:
        async with context.unit_of_work() as session:
            deleted = await purge(session)
        total += deleted
        if deleted < batch:
            break
    logger.info("purged", what=name, count=total)


@periodic_task(PURGE_IDEMPOTENCY_KEYS, cron="20 * * * *")
async def purge_idempotency_keys(context: WorkerContext) -> None:
    async with context.unit_of_work() as session:
        deleted = await maintenance.purge_idempotency_keys(session=session, now=utcnow())
    logger.info("purged", what="idempotency_keys", count=deleted)


@periodic_task(PURGE_ONE_TIME_TOKENS, cron="40 3 * * *")
async def purge_one_time_tokens(context: WorkerContext) -> None:
    before = utcnow() - timedelta(days=context.services.settings.one_time_token_retention_days)

    async def purge(session: AsyncSession) -> int:
        return await maintenance.purge_one_time_tokens(session=session, before=before)

    await _in_batches(context, "one_time_tokens", purge, batch=maintenance.BATCH)


@periodic_task(PURGE_FINISHED_JOBS, cron="50 3 * * *")
async def purge_finished_jobs(context: WorkerContext) -> None:
    before = utcnow() - timedelta(days=context.services.settings.job_retention_days)

    async def purge(session: AsyncSession) -> int:
        return await maintenance.purge_finished_jobs(session=session, before=before)

    await _in_batches(context, "jobs", purge, batch=maintenance.BATCH)


@periodic_task(PURGE_PERIODIC_RUNS, cron="55 3 * * *")
async def purge_periodic_runs(context: WorkerContext) -> None:
    before = utcnow() - timedelta(days=context.services.settings.job_retention_days)
    async with context.unit_of_work() as session:
        deleted = await maintenance.purge_periodic_runs(session=session, before=before)
    logger.info("purged", what="periodic_runs", count=deleted)
