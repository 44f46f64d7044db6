"""Customers: create, read, list, change and delete, with optimistic locking.

Every change is checked against the version the client read (`If-Match`, app/core/
conditional.py) and written `WHERE version = <that version>`, so of two concurrent writers
holding the same ETag exactly one succeeds; the other gets 412 and changes nothing.

Each change records its audit entry and its event (app/services/events.py) once it is
written, so the event's snapshot is the customer as the response shows it: new version,
new `updated_at`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.conditional import TagList, ensure_current
from app.core.errors import CustomerHasInvoicesError, NotFoundError
from app.core.events import EventType
from app.models import Customer, Invoice
from app.schemas.customers import CustomerCreate, CustomerPublic, CustomerUpdate
from app.services import events
from app.services.organizations import OrgContext
from app.services.versioning import flush_versioned

NO_SUCH_CUSTOMER = "No such customer."
_HAS_INVOICES = "Invoices refer to this customer, so it stays: an invoice keeps its customer."


@dataclass(frozen=True, slots=True)
class CustomerPage:
    items: list[Customer]
    has_more: bool


async def create_customer(*, session: AsyncSession, context: OrgContext, data: CustomerCreate) -> Customer:
    customer = Customer(
        name=data.name,
        email=data.email,
        address=data.address.model_dump() if data.address else None,
        tax_id=data.tax_id,
        metadata_=data.metadata,
    )
    session.add(customer)
    await session.flush()
    events.record_change(
        session,
        context,
        type=EventType.CUSTOMER_CREATED,
        data=CustomerPublic.from_model(customer),
        changes={"name": customer.name},
    )
    return customer


async def get_customer(*, session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    """The customer, in the organization the session is bound to; 404 otherwise."""
    customer = await session.scalar(select(Customer).where(Customer.id == customer_id))
    if customer is None:
        raise NotFoundError(NO_SUCH_CUSTOMER)
    return customer


async def list_customers(
    *, session: AsyncSession, query: str | None, after: uuid.UUID | None, limit: int
) -> CustomerPage:
    """Newest first (ids are time-ordered); `query` finds a part of the name or email, any case."""
    statement = select(Customer).order_by(Customer.id.desc()).limit(limit + 1)
    if after is not None:
        statement = statement.where(Customer.id < after)
    if query:
        # autoescape: a `%` or `_` in the query is a character, not a wildcard.
        statement = statement.where(
            or_(
                Customer.name.icontains(query, autoescape=True),
                Customer.email.icontains(query, autoescape=True),
            )
        )
    rows = list(await session.scalars(statement))
    return CustomerPage(items=rows[:limit], has_more=len(rows) > limit)


async def update_customer(
    *,
    session: AsyncSession,
    context: OrgContext,
    customer_id: uuid.UUID,
    changes: CustomerUpdate,
    if_match: TagList | None,
) -> Customer:
    customer = await get_customer(session=session, customer_id=customer_id)
    ensure_current(if_match, version=customer.version)
    summary: dict[str, Any] = {}
    for field in changes.model_fields_set:
        new = _stored(changes, field)
        old = getattr(customer, _attribute(field))
        if new != old:
            setattr(customer, _attribute(field), new)
            summary[field] = [old, new] if field in ("name", "email", "tax_id") else "changed"
    if summary:
        await flush_versioned(session)
        events.record_change(
            session,
            context,
            type=EventType.CUSTOMER_UPDATED,
            data=CustomerPublic.from_model(customer),
            changes=summary,
        )
    return customer


async def delete_customer(
    *, session: AsyncSession, context: OrgContext, customer_id: uuid.UUID, if_match: TagList | None
) -> None:
    customer = await get_customer(session=session, customer_id=customer_id)
    ensure_current(if_match, version=customer.version)
    if await session.scalar(select(exists().where(Invoice.customer_id == customer.id))):
        raise CustomerHasInvoicesError(_HAS_INVOICES)
    as_it_was = CustomerPublic.from_model(customer)
    await session.delete(customer)
    try:
        await flush_versioned(session)
    except IntegrityError:
        # An invoice for this customer was created after the check (the foreign key refuses).
        raise CustomerHasInvoicesError(_HAS_INVOICES) from None
    events.record_change(
        session, context, type=EventType.CUSTOMER_DELETED, data=as_it_was, changes={"name": as_it_was.name}
    )


def _attribute(field: str) -> str:
    return "metadata_" if field == "metadata" else field


def _stored(changes: CustomerUpdate, field: str) -> Any:
    if field == "address":
        return changes.address.model_dump() if changes.address else None
    return getattr(changes, field)
