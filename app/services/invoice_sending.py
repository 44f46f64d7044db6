"""Sending an invoice: an email to its customer with the PDF and a link to the hosted page.

- **What is sent.** An open or paid invoice (a draft has no number: 409
  `invoice_not_finalized`; a void one is not sent: 409 `invoice_not_sendable`), to the
  customer's `email` (409 `customer_email_missing` without one).
- **Once per version.** Sending marks the invoice (`sent_at`, `sent_to`), which is a change
  like any other: it bumps the invoice's version. The email job's dedupe key names the
  version it shows (`invoice-send:{id}:{version}`), so sending again while nothing changed
  finds that job and queues nothing: the same 202, about the same email. After a change (a
  payment, a void, an overdue mark) the version differs and a send emails again. Finished jobs
  are purged after JOB_RETENTION_DAYS; a send of an invoice unchanged for longer emails again.
- **Durable.** The email is a job written in this transaction (app/tasks/emails.py): it is
  sent, with retries, only if the send commits, with the mark, the link and the
  `invoice.sent` event.
- **The lock.** The invoice's row lock is taken first, so two concurrent sends of one invoice
  queue: the second finds the first's job. The PDF is rendered (or taken from the cache)
  while the lock is held, which keeps the rule simple; sending is rare, and a render is tens
  of milliseconds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.numbers import format_currency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.email import EmailAttachment
from app.core.errors import (
    CustomerEmailMissingError,
    InvoiceNotFinalizedError,
    InvoiceNotSendableError,
    NotFoundError,
)
from app.core.events import EventType
from app.core.security.invoice_links import LinkTokenHasher
from app.models import Customer, Invoice, InvoiceStatus, Job
from app.models.base import utcnow
from app.schemas.invoices import InvoicePublic
from app.services import emails, events, invoice_links
from app.services.emails import Mailer
from app.services.invoice_pdfs import InvoicePdfs, source_of
from app.services.invoices import get_invoice
from app.services.organizations import OrgContext
from app.services.versioning import flush_versioned


@dataclass(frozen=True, slots=True)
class Sending:
    """The email that carries (or carried) this version of the invoice."""

    invoice: Invoice
    job: Job


def dedupe_key(invoice_id: uuid.UUID, version: int) -> str:
    return f"invoice-send:{invoice_id}:{version}"


def money(amount: Decimal, currency: str, *, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)


async def send_invoice(
    *,
    session: AsyncSession,
    context: OrgContext,
    invoice_id: uuid.UUID,
    mailer: Mailer,
    pdfs: InvoicePdfs,
    hasher: LinkTokenHasher,
    base_url: str,
    today: date,
) -> Sending:
    """Queue the invoice's email, or find the one already queued for this version."""
    invoice = await get_invoice(session=session, invoice_id=invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.DRAFT:
        raise InvoiceNotFinalizedError(
            "Only a finalized invoice is sent: finalize it first.", invoice_status=invoice.status.value
        )
    if invoice.status == InvoiceStatus.VOID:
        raise InvoiceNotSendableError("A void invoice is not sent.", invoice_status=invoice.status.value)
    queued = await _job(session, context, dedupe_key(invoice.id, invoice.version))
    if queued is not None:
        return Sending(invoice=invoice, job=queued)
    customer = await session.get(Customer, invoice.customer_id)
    if customer is None:  # the foreign key forbids it
        raise NotFoundError("No such invoice.")
    if not customer.email:
        raise CustomerEmailMissingError(
            "The invoice's customer has no email address: add one to the customer, then send again."
        )
    invoice.sent_at, invoice.sent_to = utcnow(), customer.email
    await flush_versioned(session)  # the version the email shows, and its dedupe key
    organization = context.organization.name
    source = source_of(pdfs, invoice, customer, organization=organization)
    pdf = EmailAttachment(
        filename=source.filename, content_type="application/pdf", data=await pdfs.pdf(source)
    )
    token = invoice_links.mint_link(session=session, hasher=hasher, invoice=invoice)
    message = emails.invoice_email(
        to=customer.email,
        organization=organization,
        number=source.document.number,
        amount_due=money(invoice.amount_due, invoice.currency, locale=pdfs.locale),
        due_date=invoice.due_date.isoformat(),
        link=emails.hosted_invoice_url(base_url, token),
        pdf=pdf,
    )
    job = mailer.send_later(
        session, message, org_id=context.org_id, dedupe_key=dedupe_key(invoice.id, invoice.version)
    )
    events.record_change(
        session,
        context,
        type=EventType.INVOICE_SENT,
        data=InvoicePublic.from_model(invoice, today=today),
        changes={"number": invoice.number, "to": customer.email},
    )
    await session.flush()  # the job's defaults (its status), for the response
    return Sending(invoice=invoice, job=job)


async def _job(session: AsyncSession, context: OrgContext, key: str) -> Job | None:
    found: Job | None = await session.scalar(
        select(Job).where(Job.dedupe_key == key, Job.org_id == context.org_id)
    )
    return found
