"""Reports: an organization's figures per currency, computed in SQL, exact to the minor unit.

What is counted: finalized invoices that were not voided (`open` and `paid`), by issue date.
- invoiced: their count and the sum of their totals;
- paid: the invoices fully paid, and the money received on all of them (partial payments
  on open invoices included);
- outstanding: the open ones, and what is still due on them (total - paid);
- overdue: the open ones past their due date (UTC today), and what is due on them.
Aging (`aging_report`) splits what is due on every open invoice, whatever its issue date, by
days past due: current (not yet due), 1-30, 31-60, 61-90, over 90.

Sums are `exact_sum` (app/models/base.py): NUMERIC on PostgreSQL, integers of minor units on
SQLite, never a float. Every amount of one currency has that currency's scale, so a sum per
currency is exact; amounts of different currencies are never added together.

A change of these figures goes through `events.record_change` (invoice.* and payment.*
events), which marks the organization in the session (`mark_figures_changed`); the report
cache bumps the organization's version once that transaction commits (app/core/cache.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import minor_units
from app.models import Invoice, InvoiceStatus
from app.models.base import amount_from_sum, exact_sum, year_month

_CHANGED_KEY = "figures_changed_orgs"
REPORTED_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PAID)


def mark_figures_changed(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Remember that this transaction changes the organization's figures (invoices, payments)."""
    changed: set[uuid.UUID] = session.info.setdefault(_CHANGED_KEY, set())
    changed.add(org_id)


def figures_changed(session: AsyncSession) -> frozenset[uuid.UUID]:
    """The organizations whose figures the session's transaction changed, cleared as read."""
    changed: set[uuid.UUID] = session.info.pop(_CHANGED_KEY, set())
    return frozenset(changed)


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    issued_from: date | None = None
    issued_to: date | None = None
    currency: str | None = None

    def key(self) -> str:
        return f"{self.issued_from or ''}|{self.issued_to or ''}|{self.currency or ''}"

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.issued_from is not None:
            found.append(Invoice.issue_date >= self.issued_from)
        if self.issued_to is not None:
            found.append(Invoice.issue_date <= self.issued_to)
        if self.currency is not None:
            found.append(Invoice.currency == self.currency)
        return found


@dataclass(frozen=True, slots=True)
class Figure:
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: str  # YYYY-MM
    invoiced: Figure
    paid_amount: Decimal
    outstanding_amount: Decimal


@dataclass(frozen=True, slots=True)
class CurrencySummary:
    currency: str
    invoiced: Figure
    paid: Figure
    outstanding: Figure
    overdue: Figure
    months: list[MonthFigures]


@dataclass(frozen=True, slots=True)
class AgingBucket:
    name: str
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CurrencyAging:
    currency: str
    buckets: list[AgingBucket]
    total: Figure


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum(condition: ColumnElement[bool] | None, column: Any) -> Any:
    return exact_sum(column if condition is None else case((condition, column)))


async def summary_report(
    *, session: AsyncSession, period: ReportPeriod, today: date
) -> list[CurrencySummary]:
    """Per currency: invoiced, paid, outstanding and overdue, and a monthly series."""
    is_open = Invoice.status == InvoiceStatus.OPEN
    late = and_(is_open, Invoice.due_date < today)
    scope = [Invoice.status.in_(REPORTED_STATUSES), *period.conditions()]
    totals = await session.execute(
        select(
            Invoice.currency,
            func.count(),
            _sum(None, Invoice.total),
            _count(Invoice.status == InvoiceStatus.PAID),
            _sum(None, Invoice.amount_paid),
            _count(is_open),
            _sum(is_open, Invoice.total),
            _sum(is_open, Invoice.amount_paid),
            _count(late),
            _sum(late, Invoice.total),
            _sum(late, Invoice.amount_paid),
        )
        .where(*scope)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    month = year_month(Invoice.issue_date)
    monthly = await session.execute(
        select(
            Invoice.currency,
            month,
            func.count(),
            _sum(None, Invoice.total),
            _sum(None, Invoice.amount_paid),
            _sum(is_open, Invoice.total),
            _sum(is_open, Invoice.amount_paid),
        )
        .where(*scope)
        .group_by(Invoice.currency, month)
        .order_by(Invoice.currency, month)
    )
    months: dict[str, list[MonthFigures]] = {}
    for currency, label, count, total, paid, open_total, open_paid in monthly:
        places = minor_units(currency)
        months.setdefault(currency, []).append(
            MonthFigures(
                month=str(label),
                invoiced=Figure(int(count), amount_from_sum(total, places)),
                paid_amount=amount_from_sum(paid, places),
                outstanding_amount=amount_from_sum(open_total, places) - amount_from_sum(open_paid, places),
            )
        )
    found = []
    for row in totals:
        currency, places = row[0], minor_units(row[0])

        def amount(value: Any, places: int = places) -> Decimal:
            return amount_from_sum(value, places)

        found.append(
            CurrencySummary(
                currency=currency,
                invoiced=Figure(int(row[1]), amount(row[2])),
                paid=Figure(int(row[3]), amount(row[4])),
                outstanding=Figure(int(row[5]), amount(row[6]) - amount(row[7])),
                overdue=Figure(int(row[8]), amount(row[9]) - amount(row[10])),
                months=months.get(currency, []),
            )
        )
    return found


# (name, fewest days past due, most days past due); None: unbounded.
AGING_BUCKETS: Sequence[tuple[str, int | None, int | None]] = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def _bucket_condition(today: date, fewest: int | None, most: int | None) -> ColumnElement[bool]:
    """Days past due = today - due date; as bounds on the due date, which has an index."""
    parts: list[ColumnElement[bool]] = []
    if most is not None:
        parts.append(Invoice.due_date >= today - timedelta(days=most))
    if fewest is not None:
        parts.append(Invoice.due_date <= today - timedelta(days=fewest))
    return and_(*parts)


async def aging_report(*, session: AsyncSession, currency: str | None, today: date) -> list[CurrencyAging]:
    """What is due on open invoices, per currency, by days past due."""
    columns: list[Any] = [
        Invoice.currency,
        func.count(),
        _sum(None, Invoice.total),
        _sum(None, Invoice.amount_paid),
    ]
    for _name, fewest, most in AGING_BUCKETS:
        condition = _bucket_condition(today, fewest, most)
        columns += [_count(condition), _sum(condition, Invoice.total), _sum(condition, Invoice.amount_paid)]
    statement = select(*columns).where(Invoice.status == InvoiceStatus.OPEN)
    if currency is not None:
        statement = statement.where(Invoice.currency == currency)
    rows = await session.execute(statement.group_by(Invoice.currency).order_by(Invoice.currency))
    found = []
    for row in rows:
        places = minor_units(row[0])
        buckets = [
            AgingBucket(
                name=name,
                count=int(row[4 + 3 * index]),
                amount=amount_from_sum(row[5 + 3 * index], places)
                - amount_from_sum(row[6 + 3 * index], places),
            )
            for index, (name, _fewest, _most) in enumerate(AGING_BUCKETS)
        ]
        total = Figure(int(row[1]), amount_from_sum(row[2], places) - amount_from_sum(row[3], places))
        found.append(CurrencyAging(currency=row[0], buckets=buckets, total=total))
    return found
