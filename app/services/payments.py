"""Payments: money received against an open invoice, never more than it is due.

Recording one locks the invoice row (`FOR UPDATE`) before reading what is due, so concurrent
payments of one invoice queue and each sees the amount the previous one left: twenty at once
can never overpay (PostgreSQL also refuses `amount_paid > total` in a CHECK, and the invoice's
version column refuses a write based on a stale read). The payment that leaves nothing due
marks the invoice paid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInputError, InvoiceNotOpenError
from app.core.events import EventType
from app.core.money import minor_units, plain_text, quantize
from app.core.security.principal import ApiKeyPrincipal
from app.models import Invoice, InvoiceStatus, Payment
from app.models.base import utcnow
from app.schemas.invoices import InvoicePublic
from app.schemas.payments import PaymentCreate, PaymentPublic
from app.services import events
from app.services.invoices import get_invoice
from app.services.organizations import OrgContext
from app.services.versioning import flush_versioned

# A payment dated a little ahead is a clock or time-zone slip; much further is a mistake.
MAX_FUTURE_SKEW = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PaymentPage:
    items: list[Payment]
    has_more: bool


async def create_payment(
    *, session: AsyncSession, context: OrgContext, invoice_id: uuid.UUID, data: PaymentCreate, today: date
) -> tuple[Payment, Invoice]:
    invoice = await get_invoice(session=session, invoice_id=invoice_id, for_update=True)
    if invoice.status != InvoiceStatus.OPEN:
        raise InvoiceNotOpenError("Only an open invoice is paid.", invoice_status=invoice.status.value)
    _check_amount(data, invoice)
    now = utcnow()
    paid_at = data.paid_at or now
    if paid_at > now + MAX_FUTURE_SKEW:
        raise InvalidInputError(["body", "paid_at"], "must not be more than a day ahead", "paid_at_in_future")
    payment = Payment(
        invoice_id=invoice.id,
        amount=data.amount,
        method=data.method,
        paid_at=paid_at,
        reference=data.reference,
        created_at=now,
    )
    if isinstance(context.principal, ApiKeyPrincipal):
        payment.created_by_api_key_id = context.principal.api_key_id
    else:
        payment.created_by_user_id = context.principal.user_id
    session.add(payment)
    invoice.amount_paid = quantize(invoice.amount_paid + data.amount, invoice.currency)
    if invoice.amount_due == 0:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
    await flush_versioned(session)
    changes = {
        "invoice_id": str(invoice.id),
        "amount": plain_text(payment.amount),
        "currency": invoice.currency,
    }
    events.record_change(
        session,
        context,
        type=EventType.PAYMENT_CREATED,
        data=PaymentPublic.from_model(payment),
        changes=changes,
    )
    if invoice.status == InvoiceStatus.PAID:
        events.record_change(
            session,
            context,
            type=EventType.INVOICE_PAID,
            data=InvoicePublic.from_model(invoice, today=today),
            changes={
                "number": invoice.number,
                "currency": invoice.currency,
                "total": plain_text(invoice.total),
            },
        )
    return payment, invoice


def _check_amount(data: PaymentCreate, invoice: Invoice) -> None:
    places = minor_units(invoice.currency)
    exponent = data.amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidInputError(
            ["body", "amount"],
            f"has more decimals than {invoice.currency} has minor units ({places})",
            "amount_precision",
        )
    if data.amount > invoice.amount_due:
        raise InvalidInputError(
            ["body", "amount"],
            f"is more than the amount due ({plain_text(invoice.amount_due)} {invoice.currency})",
            "exceeds_amount_due",
        )


async def list_payments(
    *, session: AsyncSession, invoice_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> PaymentPage:
    """Oldest first: the order they were recorded in."""
    await get_invoice(session=session, invoice_id=invoice_id, with_lines=False)  # 404 for a foreign one
    statement = select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id).limit(limit + 1)
    if after is not None:
        statement = statement.where(Payment.id > after)
    rows = list(await session.scalars(statement))
    return PaymentPage(items=rows[:limit], has_more=len(rows) > limit)
