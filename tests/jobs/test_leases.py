"""The rules of durable work (app/services/leases.py) on both databases, through real rows.

What matters to a user of the queue: a due job is taken by one worker only, even when woken
twice at once; a worker that vanished gives its job back once its lease expires; a job out of
attempts is dead, kept and replayable; a lost wake-up is published again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db.session import Database
from app.db.session.tenancy import system_scope
from app.models import Job, JobKind, WorkStatus
from app.models.base import new_id, utcnow
from app.services import leases
from app.services.leases import Outcome, RetryPolicy
from app.tasks.periodic import claim_slot
from tests.conftest import app_database, empty_tables, settings_for_test

pytestmark = pytest.mark.anyio
POLICY = RetryPolicy(schedule=(10.0, 20.0), jitter=0.0)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(settings_for_test(**app_database(database_url)))
    try:
        yield database
    finally:
        await database.dispose()
        await empty_tables(database_url)


async def new_job(database: Database, **values: object) -> Job:
    job = Job(
        id=new_id(),
        kind=JobKind.EMAIL,
        payload=b"sealed",
        max_attempts=POLICY.max_attempts,
        next_attempt_at=utcnow(),
        **values,
    )
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        session.add(job)
    return job


async def claim(
    database: Database, job: Job, owner: str, *, lease_seconds: float = 60, at: object = None
) -> Job | None:
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        return await leases.claim(
            session,
            Job,
            work_id=job.id,
            owner=owner,
            lease_seconds=lease_seconds,
            now=at or utcnow(),  # type: ignore[arg-type]
        )


async def finish(database: Database, job: Job, owner: str, outcome: Outcome) -> WorkStatus | None:
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        return await leases.finish(
            session, Job, work=job, owner=owner, outcome=outcome, policy=POLICY, now=utcnow()
        )


async def stored(database: Database, job: Job) -> Job:
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        row = await session.scalar(select(Job).where(Job.id == job.id))
        assert row is not None
        return row


async def test_two_workers_woken_at_once_take_the_job_once(database: Database) -> None:
    job = await new_job(database)
    taken = await asyncio.gather(*(claim(database, job, f"worker-{n}") for n in range(10)))
    winners = [work for work in taken if work is not None]
    assert len(winners) == 1
    row = await stored(database, job)
    assert (row.status, row.attempts, row.lease_owner) == (WorkStatus.RUNNING, 1, winners[0].lease_owner)


async def test_a_failure_schedules_the_next_attempt_and_the_last_one_is_dead(database: Database) -> None:
    job = await new_job(database)
    for attempt, expected in ((1, WorkStatus.PENDING), (2, WorkStatus.PENDING), (3, WorkStatus.DEAD)):
        work = await claim(database, job, "w", at=utcnow() + timedelta(hours=attempt))
        assert work is not None
        assert work.attempts == attempt
        assert await finish(database, work, "w", Outcome.failure("smtp said no")) == expected
    row = await stored(database, job)
    assert (row.status, row.last_error, row.finished_at is not None) == (
        WorkStatus.DEAD,
        "smtp said no",
        True,
    )
    assert await claim(database, job, "w", at=utcnow() + timedelta(days=1)) is None  # dead stays dead


async def test_a_retry_waits_for_its_schedule_or_the_receivers_retry_after(database: Database) -> None:
    job = await new_job(database)
    work = await claim(database, job, "w")
    assert work is not None
    before = utcnow()
    await finish(database, work, "w", Outcome.failure("busy", retry_after=3600))
    row = await stored(database, job)
    assert row.next_attempt_at - before >= timedelta(seconds=3599)
    assert await claim(database, job, "w") is None  # not due yet


async def test_give_up_is_dead_at_once_and_success_is_final(database: Database) -> None:
    gone, sent = await new_job(database), await new_job(database)
    for job, outcome, status in (
        (gone, Outcome.failure("410", give_up=True), WorkStatus.DEAD),
        (sent, Outcome.success(), WorkStatus.SUCCEEDED),
    ):
        work = await claim(database, job, "w")
        assert work is not None
        assert await finish(database, work, "w", outcome) == status


async def test_an_expired_lease_is_taken_back_and_its_late_owner_records_nothing(database: Database) -> None:
    job = await new_job(database)
    first = await claim(database, job, "vanished", lease_seconds=0.01)
    assert first is not None
    await asyncio.sleep(0.05)
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        assert await leases.release_expired(session, Job, now=utcnow()) == 1
    second = await claim(database, job, "successor")
    assert second is not None
    assert second.attempts == 2
    assert await finish(database, first, "vanished", Outcome.success()) is None  # lease lost
    assert await finish(database, second, "successor", Outcome.success()) == WorkStatus.SUCCEEDED


async def test_an_expired_lease_on_the_last_attempt_is_dead_not_retried_forever(database: Database) -> None:
    job = await new_job(database, attempts=POLICY.max_attempts - 1)
    assert await claim(database, job, "crashes-every-time", lease_seconds=0.01) is not None
    await asyncio.sleep(0.05)
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        await leases.release_expired(session, Job, now=utcnow())
    row = await stored(database, job)
    assert (row.status, row.last_error) == (WorkStatus.DEAD, leases.LEASE_EXPIRED)


async def test_due_jobs_are_woken_once_until_their_wake_up_looks_lost(database: Database) -> None:
    job = await new_job(database)

    async def due(rewake_after: float) -> list[object]:
        async with database.unit_of_work() as session:
            await system_scope(session, "worker")
            return list(
                await leases.take_due(session, Job, now=utcnow(), rewake_after_seconds=rewake_after, limit=10)
            )

    assert await due(60) == [job.id]
    assert await due(60) == []  # woken already
    await asyncio.sleep(0.05)
    assert await due(0.01) == [job.id]  # that wake-up is old: woken again


async def test_a_dead_job_replays_from_its_first_attempt(database: Database) -> None:
    job = await new_job(database, attempts=POLICY.max_attempts, status=WorkStatus.DEAD)
    async with database.unit_of_work() as session:
        await system_scope(session, "worker")
        assert await leases.reopen(session, Job, where=[Job.id == job.id], now=utcnow()) == [job.id]
    work = await claim(database, job, "w")
    assert work is not None
    assert work.attempts == 1


async def test_a_periodic_slot_is_claimed_by_one_scheduler_only(database: Database) -> None:
    async def attempt() -> bool:
        async with database.unit_of_work() as session:
            return await claim_slot(session, name="maintenance.purge", slot="2026-11-30T03:00:00+00:00")

    results = await asyncio.gather(*(attempt() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
