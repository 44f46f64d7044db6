"""The periodic jobs, run as the scheduler runs them (`run_periodic` with the app's worker
context): the overdue scan (once per invoice, reminders only with the flag, concurrent scans on
PostgreSQL), and the purges (exactly what expired, and nothing more on a second run)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.events import EventType
from app.core.features import Feature
from app.core.permissions import Role
from app.models import (
    Event,
    FeatureFlag,
    IdempotencyKey,
    Invoice,
    InvoiceStatus,
    Job,
    JobKind,
    OneTimeToken,
    PeriodicRun,
    TokenPurpose,
    WorkStatus,
)
from app.models.base import new_id, utc_today, utcnow
from app.tasks import names
from app.tasks.context import WorkerContext
from app.tasks.periodic import run_periodic
from app.tasks.registry import PERIODIC_TASKS
from tests.support.factories import write_rows
from tests.support.invoicing import invoice_row
from tests.support.jobs import settle_jobs
from tests.support.smtp import MailSink
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

CUSTOMER_EMAIL = "billing@globex.example.com"
LINK = re.compile(r"/i/([A-Za-z0-9_-]{43})\b")


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


def context_of(client: httpx.AsyncClient) -> WorkerContext:
    context: WorkerContext = client.app.state.job_runtime.context  # type: ignore[attr-defined]
    return context


async def run(client: httpx.AsyncClient, task: str, *, slot: str | None = None) -> bool:
    ran = await run_periodic(context_of(client), PERIODIC_TASKS[task], slot=slot or uuid.uuid4().hex)
    await settle_jobs(client.app)  # type: ignore[attr-defined]
    return ran


async def customer(client: httpx.AsyncClient, tenant: Tenant, email: str | None = CUSTOMER_EMAIL) -> str:
    body: dict[str, Any] = {"name": "Globex", **({"email": email} if email else {})}
    created = await client.post(tenant.path("/customers"), headers=tenant.auth[Role.OWNER], json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def open_invoices(
    client: httpx.AsyncClient, tenant: Tenant, customer_id: str, *, first: int = 1, **due: int
) -> dict[str, str]:
    """Open invoices due `days` from today (negative: past due), by name; their ids."""
    today = utc_today()
    rows = {
        name: invoice_row(
            tenant,
            customer_id,
            status=InvoiceStatus.OPEN,
            number=f"INV-2026-{position:06d}",
            issued=today - timedelta(days=60),
            due=today + timedelta(days=days),
        )
        for position, (name, days) in enumerate(due.items(), start=first)
    }
    await write_rows(client, list(rows.values()))
    return {name: str(row.id) for name, row in rows.items()}


async def events_of(client: httpx.AsyncClient, tenant: Tenant, type: str) -> list[dict[str, Any]]:
    listed = await client.get(
        tenant.path("/events"), headers=tenant.auth[Role.OWNER], params={"type": type, "limit": 200}
    )
    assert listed.status_code == 200
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def rows(database_url: str, model: Any, *where: Any) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        await engine.dispose()


# --- the overdue scan -------------------------------------------------------------------------


async def test_each_overdue_invoice_is_announced_once(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    customer_id = await customer(client, acme)
    ids = await open_invoices(client, acme, customer_id, late=-3, yesterday=-1, today=0, later=10)
    paid = invoice_row(acme, customer_id, status=InvoiceStatus.PAID, number="INV-2026-000100")
    draft = invoice_row(acme, customer_id)
    await write_rows(client, [paid, draft])
    before = await client.get(acme.path(f"/invoices/{ids['late']}"), headers=acme.auth[Role.OWNER])

    assert await run(client, names.SCAN_OVERDUE_INVOICES)
    announced = await events_of(client, acme, "invoice.overdue")
    assert sorted(event["data"]["id"] for event in announced) == sorted([ids["late"], ids["yesterday"]])
    for event in announced:
        assert event["actor"] == {"type": "system", "id": None}
        assert event["data"]["overdue"] is True
        assert event["request_id"] is None
    after = await client.get(acme.path(f"/invoices/{ids['late']}"), headers=acme.auth[Role.OWNER])
    assert after.headers["etag"] != before.headers["etag"]  # the mark is a change
    audit = await client.get(
        acme.path("/audit-log"), headers=acme.auth[Role.OWNER], params={"action": "invoice.overdue"}
    )
    assert {entry["actor_type"] for entry in audit.json()["items"]} == {"system"}

    # Another run (another slot, as tomorrow's): nothing more.
    assert await run(client, names.SCAN_OVERDUE_INVOICES)
    assert len(await events_of(client, acme, "invoice.overdue")) == 2
    assert mail.received() == []  # reminders are off by default
    assert await rows(database_url, Invoice, Invoice.overdue_notified_at.is_not(None)) == 2


async def test_a_slot_runs_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    await open_invoices(client, acme, await customer(client, acme), late=-3)
    assert await run(client, names.SCAN_OVERDUE_INVOICES, slot="2026-11-30T00:30:00+00:00")
    assert not await run(client, names.SCAN_OVERDUE_INVOICES, slot="2026-11-30T00:30:00+00:00")
    assert len(await events_of(client, acme, "invoice.overdue")) == 1


async def test_reminders_go_out_only_with_the_flag(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    globex = await make_tenant(client, "Globex")
    await write_rows(
        client, [FeatureFlag(org_id=acme.org_id, name=Feature.OVERDUE_REMINDERS.value, enabled=True)]
    )
    await open_invoices(client, acme, await customer(client, acme), late=-3)
    await open_invoices(client, acme, await customer(client, acme, email=None), first=2, silent=-3)
    await open_invoices(
        client, globex, await customer(client, globex, email="ap@initech.example.com"), late=-5
    )

    await run(client, names.SCAN_OVERDUE_INVOICES)
    [reminder] = mail.received()  # Acme's flag only, and only a customer with an address
    assert reminder.to == [CUSTOMER_EMAIL]
    assert reminder.subject == "Reminder: invoice INV-2026-000001 from Acme is overdue"
    assert "€100.00 is still open" in reminder.body
    assert "/i/" not in reminder.body  # never sent, so no link to share
    assert len(await events_of(client, globex, "invoice.overdue")) == 1  # announced all the same

    await run(client, names.SCAN_OVERDUE_INVOICES)
    assert len(mail.received()) == 1


async def test_a_reminder_for_a_sent_invoice_carries_a_link_of_its_own(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    await write_rows(
        client, [FeatureFlag(org_id=acme.org_id, name=Feature.OVERDUE_REMINDERS.value, enabled=True)]
    )
    ids = await open_invoices(client, acme, await customer(client, acme), late=-3)
    sent = await client.post(acme.path(f"/invoices/{ids['late']}/send"), headers=acme.auth[Role.OWNER])
    assert sent.status_code == 202, sent.text
    await run(client, names.SCAN_OVERDUE_INVOICES)
    invoice_mail, reminder = mail.to(CUSTOMER_EMAIL)
    match = LINK.search(reminder.body)
    assert match
    assert match.group(1) not in invoice_mail.body
    page = await client.get(f"/i/{match.group(1)}")
    assert page.status_code == 200
    assert "INV-2026-000001" in page.text


async def test_concurrent_scans_announce_each_invoice_once(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent scanners are PostgreSQL's (SKIP LOCKED); SQLite has one writer")
    customer_id = await customer(client, acme)
    await open_invoices(client, acme, customer_id, **{f"i{n}": -1 - n % 7 for n in range(450)})
    context = context_of(client)
    task = PERIODIC_TASKS[names.SCAN_OVERDUE_INVOICES]
    ran = await asyncio.gather(*(run_periodic(context, task, slot=f"scanner-{n}") for n in range(3)))
    assert ran == [True, True, True]
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            announced = list(
                await connection.scalars(select(Event.data).where(Event.type == EventType.INVOICE_OVERDUE))
            )
    finally:
        await engine.dispose()
    ids = [data["id"] for data in announced]
    assert len(ids) == 450
    assert len(set(ids)) == 450


# --- purges -------------------------------------------------------------------------------


async def test_purges_delete_exactly_what_expired(
    client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    now = utcnow()
    long_ago, recently = now - timedelta(days=40), now - timedelta(days=2)
    user_id = acme.ids[Role.OWNER]

    def key(expires: timedelta) -> IdempotencyKey:
        return IdempotencyKey(
            key_hash=uuid.uuid4().hex * 2,
            fingerprint="f" * 64,
            response=b"x",
            created_at=now,
            expires_at=now + expires,
        )

    def token(*, expires: timedelta, used: timedelta | None = None) -> OneTimeToken:
        return OneTimeToken(
            user_id=user_id,
            sent_to="owner@acme.example.com",
            purpose=TokenPurpose.RESET_PASSWORD,
            token_hash=uuid.uuid4().hex * 2,
            created_at=now - timedelta(days=30),
            expires_at=now + expires,
            used_at=now + used if used is not None else None,
        )

    def job(status: WorkStatus, finished: Any) -> Job:
        return Job(
            id=new_id(),
            kind=JobKind.EMAIL,
            payload=b"sealed",
            status=status,
            max_attempts=5,
            next_attempt_at=long_ago,
            finished_at=finished,
            created_at=long_ago,
        )

    await write_rows(
        client,
        [
            key(-timedelta(seconds=1)),  # expired
            key(timedelta(hours=1)),
            token(expires=-timedelta(days=8)),  # expired beyond the 7 days kept
            token(expires=timedelta(days=1), used=-timedelta(days=8)),  # used beyond them
            token(expires=-timedelta(days=1)),  # expired, still kept
            token(expires=timedelta(hours=1)),  # live
            job(WorkStatus.SUCCEEDED, long_ago),  # purged
            job(WorkStatus.DEAD, long_ago),  # purged
            job(WorkStatus.SUCCEEDED, recently),
            job(WorkStatus.PENDING, None),
            job(WorkStatus.RUNNING, None),
            PeriodicRun(name="x", slot="old", started_at=long_ago, finished_at=long_ago, outcome="ok"),
            PeriodicRun(name="x", slot="new", started_at=recently, finished_at=recently, outcome="ok"),
        ],
    )
    for _ in range(2):  # a second run finds nothing more
        await run(client, names.PURGE_IDEMPOTENCY_KEYS)
        await run(client, names.PURGE_ONE_TIME_TOKENS)
        await run(client, names.PURGE_FINISHED_JOBS)
        await run(client, names.PURGE_PERIODIC_RUNS)
        assert await rows(database_url, IdempotencyKey) == 1
        assert await rows(database_url, IdempotencyKey, IdempotencyKey.expires_at > now) == 1
        assert await rows(database_url, OneTimeToken) == 2
        assert await rows(database_url, Job) == 3
        assert await rows(database_url, Job, Job.finished_at < now - timedelta(days=30)) == 0
        # The old run is gone; the recent one and this test's own runs stay.
        assert await rows(database_url, PeriodicRun, PeriodicRun.slot == "old") == 0
        assert await rows(database_url, PeriodicRun, PeriodicRun.slot == "new") == 1


async def test_every_periodic_job_is_registered_with_a_schedule() -> None:
    for name in (
        names.SCAN_OVERDUE_INVOICES,
        names.PURGE_IDEMPOTENCY_KEYS,
        names.PURGE_ONE_TIME_TOKENS,
        names.PURGE_FINISHED_JOBS,
        names.PURGE_PERIODIC_RUNS,
    ):
        assert len(PERIODIC_TASKS[name].cron.split()) == 5
