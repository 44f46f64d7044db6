"""The overdue scan: announce each open invoice that passed its due date, once.

Run daily by a periodic job (app/tasks/maintenance.py), in batches, each its own transaction:

- **Once per invoice.** An announced invoice is marked (`overdue_notified_at`) in the same
  transaction as its `invoice.overdue` event, and the scan only takes unmarked ones: a second
  run, or a run that crashed halfway and is run again, announces nothing twice.
- **Several scanners at once.** On PostgreSQL a batch takes its invoices `FOR UPDATE SKIP
  LOCKED`: a concurrent scanner skips the rows this one holds, and by the time it could take
  them they are marked. SQLite has one writer at a time (the embedded mode runs one process).
- **As the system.** The event and its audit entry name the actor `system`; the invoice's
  version moves (the mark is a change), and its `ETag` with it.
- **A reminder** to the customer, when the organization has `overdue_reminders` on (off by
  default, app/core/features.py) and the customer has an email address: a durable email with a
  dedupe key per invoice, so it is queued once even if the mark were lost. It carries a link
  to the hosted page only if the invoice has a live link (it was sent, and its links were not
  revoked): an organization that revoked its links does not get a new one behind its back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from babel.numbers import format_currency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.events import EventType
from app.core.features import Feature
from app.core.security.invoice_links import LinkTokenHasher
from app.models import Customer, Invoice, InvoiceStatus, Job, Organization
from app.schemas.invoices import InvoicePublic
from app.services import emails, events, features, invoice_links
from app.services.audit import SystemActor
from app.services.emails import Mailer
from app.services.versioning import flush_versioned


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    """What a reminder needs besides the invoice: the mailer, and how links and amounts look."""

    mailer: Mailer
    hasher: LinkTokenHasher
    base_url: str
    locale: str
    feature_defaults: Mapping[Feature, bool]


@dataclass(frozen=True, slots=True)
class OverdueBatch:
    announced: int
    reminded: int


def reminder_key(invoice_id: uuid.UUID) -> str:
    return f"invoice-overdue-reminder:{invoice_id}"


async def announce_overdue(
    *, session: AsyncSession, today: date, now: datetime, limit: int, reminders: ReminderSettings
) -> OverdueBatch:
    """Announce up to `limit` invoices overdue on `today` (UTC); the session is the worker's."""
    candidates = (
        select(Invoice.id)
        .join(Organization, Organization.id == Invoice.org_id)
        .where(
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.due_date < today,
            Invoice.overdue_notified_at.is_(None),
            Organization.deleted_at.is_(None),
        )
        .order_by(Invoice.due_date, Invoice.id)
        .limit(limit)
        .with_for_update(of=Invoice, skip_locked=True)
    )
    ids = list(await session.scalars(candidates))
    if not ids:
        return OverdueBatch(announced=0, reminded=0)
    invoices = list(
        await session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(ids))
            .options(selectinload(Invoice.line_items))
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    organizations = {
        row[0].id: (row[0], features.parse_overrides(row[1]))
        for row in await session.execute(
            select(Organization, features.overrides_column()).where(
                Organization.id.in_({invoice.org_id for invoice in invoices})
            )
        )
    }
    customers = {
        customer.id: customer
        for customer in await session.scalars(
            select(Customer).where(Customer.id.in_({invoice.customer_id for invoice in invoices}))
        )
    }
    for invoice in invoices:
        invoice.overdue_notified_at = now
    await flush_versioned(session)
    reminded = 0
    for invoice in invoices:
        events.record_change(
            session,
            SystemActor(org_id=invoice.org_id),
            type=EventType.INVOICE_OVERDUE,
            data=InvoicePublic.from_model(invoice, today=today),
            changes={"number": invoice.number, "due_date": invoice.due_date.isoformat()},
        )
        organization, overrides = organizations[invoice.org_id]
        flags = features.effective_flags(overrides=overrides, defaults=reminders.feature_defaults)
        customer = customers[invoice.customer_id]
        if flags[Feature.OVERDUE_REMINDERS] and customer.email:
            reminded += await _remind(session, invoice, customer.email, organization.name, reminders)
    return OverdueBatch(announced=len(invoices), reminded=reminded)


async def _remind(
    session: AsyncSession, invoice: Invoice, to: str, organization: str, reminders: ReminderSettings
) -> int:
    key = reminder_key(invoice.id)
    if await session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return 0
    link = None
    if await invoice_links.has_live_link(session=session, invoice_id=invoice.id):
        token = invoice_links.mint_link(session=session, hasher=reminders.hasher, invoice=invoice)
        link = emails.hosted_invoice_url(reminders.base_url, token)
    assert invoice.number is not None  # open invoices are numbered
    message = emails.overdue_reminder_email(
        to=to,
        organization=organization,
        number=invoice.number,
        amount_due=format_currency(invoice.amount_due, invoice.currency, locale=reminders.locale),
        due_date=invoice.due_date.isoformat(),
        link=link,
    )
    reminders.mailer.send_later(session, message, org_id=invoice.org_id, dedupe_key=key)
    return 1
