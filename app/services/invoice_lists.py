"""The invoice list: filters, four sort orders, and keyset pages over any of them.

A page continues after the last row's (sort value, id): `WHERE (col, id) > (v, id0)` ascending,
`<` descending, with the id breaking ties, so a page never repeats or skips a row however
the rows share sort values, and reaching page 100 costs what page 1 costs. The cursor carries
the two values, signed and bound to the organization, sort and filters (the router binds it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import plain_text
from app.models import Customer, Invoice, InvoiceStatus
from app.models.base import ExactDecimal, numeric_order
from app.schemas.invoices import InvoiceSort


@dataclass(frozen=True, slots=True)
class InvoiceFilters:
    statuses: frozenset[InvoiceStatus] = field(default_factory=frozenset)
    customer_id: uuid.UUID | None = None
    currency: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    due_before: date | None = None
    overdue: bool | None = None
    query: str | None = None

    def binding(self) -> str:
        """What a cursor of this list is bound to, with the sort (app/core/security/cursors.py)."""
        parts = [
            ",".join(sorted(self.statuses)),
            *(
                "" if value is None else str(value)
                for value in (
                    self.customer_id,
                    self.currency,
                    self.issued_from,
                    self.issued_to,
                    self.due_before,
                    self.overdue,
                    self.query,
                )
            ),
        ]
        # The query is client text: length-prefixed, so no value can imitate a separator.
        return "|".join(f"{len(part)}:{part}" for part in parts)

    def conditions(self, *, today: date) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.statuses:
            found.append(Invoice.status.in_(sorted(self.statuses)))
        if self.customer_id is not None:
            found.append(Invoice.customer_id == self.customer_id)
        if self.currency is not None:
            found.append(Invoice.currency == self.currency)
        if self.issued_from is not None:
            found.append(Invoice.issue_date >= self.issued_from)
        if self.issued_to is not None:
            found.append(Invoice.issue_date <= self.issued_to)
        if self.due_before is not None:
            found.append(Invoice.due_date < self.due_before)
        if self.overdue is not None:
            overdue = and_(Invoice.status == InvoiceStatus.OPEN, Invoice.due_date < today)
            found.append(overdue if self.overdue else ~overdue)
        if self.query:
            # autoescape: `%` and `_` in the query are characters, not wildcards.
            customers = select(Customer.id).where(Customer.name.icontains(self.query, autoescape=True))
            found.append(
                or_(
                    Invoice.number.icontains(self.query, autoescape=True),
                    Invoice.memo.icontains(self.query, autoescape=True),
                    Invoice.customer_id.in_(customers.scalar_subquery()),
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: list[Invoice]
    # The last row's (sort value, id) as text, when there is a next page.
    next_position: tuple[str, str] | None


def _sort_expression(sort: InvoiceSort) -> Any:
    column = getattr(Invoice, sort.column)
    return numeric_order(column) if sort.column == "total" else column


def _as_text(value: date | datetime | Decimal) -> str:
    return plain_text(value) if isinstance(value, Decimal) else value.isoformat()


def _from_text(sort: InvoiceSort, text: str) -> Any:
    """The cursor's sort value as a bound parameter of the column's own type."""
    if sort.column == "total":
        return numeric_order(literal(Decimal(text), ExactDecimal()))
    column = getattr(Invoice, sort.column)
    value = datetime.fromisoformat(text) if sort.column == "created_at" else date.fromisoformat(text)
    return literal(value, column.type)


def ordered_invoices(*, filters: InvoiceFilters, sort: InvoiceSort, today: date) -> Select[Invoice]:
    """The invoices the filters select, in the sort's order with the id breaking ties: the list
    pages through this statement, and an export streams all of it."""
    key = _sort_expression(sort)
    statement = select(Invoice).where(*filters.conditions(today=today))
    if sort.descending:
        return statement.order_by(key.desc(), Invoice.id.desc())
    return statement.order_by(key.asc(), Invoice.id.asc())


async def list_invoices(
    *,
    session: AsyncSession,
    filters: InvoiceFilters,
    sort: InvoiceSort,
    after: list[str] | None,
    limit: int,
    today: date,
) -> InvoicePage:
    """One page of invoices, summary columns only (no lines are loaded)."""
    key = _sort_expression(sort)
    statement = ordered_invoices(filters=filters, sort=sort, today=today)
    if after is not None:
        position = tuple_(key, Invoice.id)
        bound = tuple_(_from_text(sort, after[0]), literal(uuid.UUID(after[1]), Invoice.id.type))
        statement = statement.where(position < bound if sort.descending else position > bound)
    rows = list(await session.scalars(statement.limit(limit + 1)))
    items = rows[:limit]
    if len(rows) <= limit:
        return InvoicePage(items=items, next_position=None)
    last = items[-1]
    return InvoicePage(items=items, next_position=(_as_text(getattr(last, sort.column)), str(last.id)))
