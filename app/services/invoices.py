"""Invoices: drafts, finalizing and voiding, with exact totals and optimistic locking.

The state machine (README, "Invoices"): `draft → open → paid`, `draft | open → void`. Only a
draft changes; finalizing numbers it (app/services/invoice_numbers.py). Totals are computed
here from the lines (app/core/money.py), never taken from the client.

Who may change a draft: `invoices:write` any, `invoices:write_own` only those its caller
created. Transitions lock the invoice row (`FOR UPDATE`) so two finalizers of one draft run
one after the other, and the second finds it open (409).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.clients.storage import Storage
from app.core.conditional import TagList, ensure_matches
from app.core.errors import (
    InvalidInputError,
    InvoiceNotDraftError,
    InvoiceNotVoidableError,
    NotFoundError,
    NotInvoiceCreatorError,
)
from app.core.events import EventType
from app.core.money import invoice_totals, line_amounts, plain_text, quantize
from app.core.permissions import Permission
from app.core.security.principal import ApiKeyPrincipal
from app.models import Customer, Invoice, InvoiceLineItem, InvoiceStatus
from app.models.base import new_id, utcnow
from app.schemas.invoices import InvoiceCreate, InvoicePublic, InvoiceUpdate, LineItemIn, is_overdue
from app.services import attachments, events, invoice_numbers
from app.services.organizations import OrgContext
from app.services.versioning import flush_versioned

NO_SUCH_INVOICE = "No such invoice."


def invoice_tag(invoice: Invoice, *, today: date) -> str:
    """The strong ETag: the version, and whether it is overdue, which changes with the date alone."""
    return f'"{invoice.version}{"-overdue" if is_overdue(invoice, today=today) else ""}"'


async def create_invoice(
    *, session: AsyncSession, context: OrgContext, data: InvoiceCreate, today: date
) -> Invoice:
    await _ensure_customer(session, data.customer_id)
    now = utcnow()
    # Everything a flush would fill in is set here, so the invoice, its lines, its event and its
    # audit entry reach the database in the commit's one flush (a flush is about a third of
    # creating an invoice: bench/invoices.py).
    invoice = Invoice(
        id=new_id(),
        created_at=now,
        updated_at=now,
        version=1,
        status=InvoiceStatus.DRAFT,
        customer_id=data.customer_id,
        currency=data.currency,
        issue_date=data.issue_date,
        due_date=data.due_date,
        memo=data.memo,
        metadata_=data.metadata,
        amount_paid=quantize(Decimal(0), data.currency),
        line_items=[],
    )
    _set_creator(invoice, context)
    _set_lines(invoice, data.line_items)
    session.add(invoice)
    _announce(session, context, EventType.INVOICE_CREATED, invoice, today=today, changes=_amounts(invoice))
    return invoice


async def get_invoice(
    *, session: AsyncSession, invoice_id: uuid.UUID, with_lines: bool = True, for_update: bool = False
) -> Invoice:
    """The invoice, in the organization the session is bound to; 404 otherwise."""
    statement = select(Invoice).where(Invoice.id == invoice_id)
    if with_lines:
        statement = statement.options(selectinload(Invoice.line_items))
    if for_update:
        statement = statement.with_for_update(of=Invoice)
    invoice = await session.scalar(statement)
    if invoice is None:
        raise NotFoundError(NO_SUCH_INVOICE)
    return invoice


async def update_invoice(
    *,
    session: AsyncSession,
    context: OrgContext,
    invoice_id: uuid.UUID,
    changes: InvoiceUpdate,
    if_match: TagList | None,
    today: date,
) -> Invoice:
    invoice = await get_invoice(session=session, invoice_id=invoice_id)
    ensure_matches(if_match, current=invoice_tag(invoice, today=today))
    _ensure_may_edit(context, invoice)
    sent = changes.model_fields_set
    if "customer_id" in sent and changes.customer_id != invoice.customer_id:
        assert changes.customer_id is not None  # null is refused by the schema
        await _ensure_customer(session, changes.customer_id)
    issue_date = changes.issue_date if "issue_date" in sent else invoice.issue_date
    due_date = changes.due_date if "due_date" in sent else invoice.due_date
    if issue_date is not None and due_date is not None and due_date < issue_date:
        raise InvalidInputError(["body", "due_date"], "must not be before issue_date", "due_before_issue")

    summary: dict[str, Any] = {}
    for field in sent - {"line_items", "metadata"}:
        new, old = getattr(changes, field), getattr(invoice, field)
        if new != old:
            setattr(invoice, field, new)
            summary[field] = [str(old), str(new)] if field != "memo" else "changed"
    if "metadata" in sent and changes.metadata != invoice.metadata_:
        invoice.metadata_ = changes.metadata or {}
        summary["metadata"] = "changed"
    if changes.line_items is not None:
        _set_lines(invoice, changes.line_items)
        summary["line_items"] = "replaced"
    elif "currency" in summary:
        # Same lines, other minor units: recompute every rounded amount.
        _recompute(invoice)
    if summary:
        await flush_versioned(session)
        summary.update(_amounts(invoice))
        _announce(session, context, EventType.INVOICE_UPDATED, invoice, today=today, changes=summary)
    return invoice


async def delete_invoice(
    *,
    session: AsyncSession,
    context: OrgContext,
    invoice_id: uuid.UUID,
    if_match: TagList | None,
    today: date,
    storage: Storage,
) -> None:
    invoice = await get_invoice(session=session, invoice_id=invoice_id)
    ensure_matches(if_match, current=invoice_tag(invoice, today=today))
    _ensure_may_edit(context, invoice)
    as_it_was = InvoicePublic.from_model(invoice, today=today)
    # The rows go with the draft (ON DELETE CASCADE); their objects once that has committed.
    attachment_keys = await attachments.keys_of_invoice(session=session, invoice_id=invoice_id)
    await session.delete(invoice)
    await flush_versioned(session)
    attachments.forget_objects(session, storage, attachment_keys)
    events.record_change(
        session, context, type=EventType.INVOICE_DELETED, data=as_it_was, changes=_amounts(invoice)
    )


async def finalize_invoice(
    *,
    session: AsyncSession,
    context: OrgContext,
    invoice_id: uuid.UUID,
    if_match: TagList | None,
    today: date,
) -> Invoice:
    """Number the draft and open it; one with nothing to pay is paid at once."""
    invoice = await get_invoice(session=session, invoice_id=invoice_id, for_update=True)
    ensure_matches(if_match, current=invoice_tag(invoice, today=today), required=False)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceNotDraftError("Only a draft is finalized.", invoice_status=invoice.status.value)
    now = utcnow()
    invoice.status = InvoiceStatus.OPEN
    invoice.finalized_at = now
    if invoice.total == 0:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
    # Last, so the counter row stays locked for as short a time as possible.
    invoice.number = await invoice_numbers.next_number(session, org_id=context.org_id, year=now.year)
    await flush_versioned(session)
    changes = {"number": invoice.number, **_amounts(invoice)}
    _announce(session, context, EventType.INVOICE_FINALIZED, invoice, today=today, changes=changes)
    if invoice.status == InvoiceStatus.PAID:
        _announce(session, context, EventType.INVOICE_PAID, invoice, today=today, changes=changes)
    return invoice


async def void_invoice(
    *,
    session: AsyncSession,
    context: OrgContext,
    invoice_id: uuid.UUID,
    if_match: TagList | None,
    today: date,
) -> Invoice:
    invoice = await get_invoice(session=session, invoice_id=invoice_id, for_update=True)
    ensure_matches(if_match, current=invoice_tag(invoice, today=today), required=False)
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise InvoiceNotVoidableError(
            "A draft or an open invoice is voided.", invoice_status=invoice.status.value
        )
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = utcnow()
    await flush_versioned(session)
    _announce(
        session, context, EventType.INVOICE_VOIDED, invoice, today=today, changes={"number": invoice.number}
    )
    return invoice


def _announce(
    session: AsyncSession,
    context: OrgContext,
    type: EventType,
    invoice: Invoice,
    *,
    today: date,
    changes: dict[str, Any],
) -> None:
    """The event (the invoice as the API now shows it) and the audit entry, in this transaction."""
    data = InvoicePublic.from_model(invoice, today=today)
    events.record_change(session, context, type=type, data=data, changes=changes)


def _amounts(invoice: Invoice) -> dict[str, str]:
    return {"currency": invoice.currency, "total": plain_text(invoice.total)}


def _set_creator(invoice: Invoice, context: OrgContext) -> None:
    if isinstance(context.principal, ApiKeyPrincipal):
        invoice.created_by_api_key_id = context.principal.api_key_id
    else:
        invoice.created_by_user_id = context.principal.user_id


def _ensure_may_edit(context: OrgContext, invoice: Invoice) -> None:
    """Drafts only; and with `invoices:write_own` alone, drafts the caller created."""
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceNotDraftError(
            "Only a draft can be changed or deleted.", invoice_status=invoice.status.value
        )
    if context.allows(Permission.INVOICES_WRITE):
        return
    principal = context.principal
    if isinstance(principal, ApiKeyPrincipal):
        own = invoice.created_by_api_key_id == principal.api_key_id
    else:
        own = invoice.created_by_user_id == principal.user_id
    if not own:
        raise NotInvoiceCreatorError("With invoices:write_own you change only the drafts you created.")


async def _ensure_customer(session: AsyncSession, customer_id: uuid.UUID) -> None:
    # A customer of another organization is as absent as one that never existed.
    found = await session.scalar(select(exists().where(Customer.id == customer_id)))
    if not found:
        raise InvalidInputError(
            ["body", "customer_id"], "names no customer of this organization", "unknown_customer"
        )


def _set_lines(invoice: Invoice, lines: list[LineItemIn]) -> None:
    invoice.line_items = [
        InvoiceLineItem(
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
        )
        for position, line in enumerate(lines)
    ]
    _recompute(invoice)


def _recompute(invoice: Invoice) -> None:
    for line in invoice.line_items:
        line.line_total, line.tax_amount = line_amounts(
            line.quantity, line.unit_price, line.tax_rate, invoice.currency
        )
    invoice.subtotal, invoice.tax_total, invoice.total = invoice_totals(invoice.line_items, invoice.currency)
    # Only drafts are recomputed, and nothing is paid on a draft: zero in the currency's units.
    invoice.amount_paid = quantize(Decimal(0), invoice.currency)
