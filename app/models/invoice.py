"""Invoices, their line items, and the per-organization counters that number them.

Amounts are `Decimal` in `ExactDecimal` columns (app/models/base.py): exact on both backends.
Their bounds are CHECK constraints on PostgreSQL; SQLite stores the digits as text, where a
numeric CHECK would compare text with numbers, so there the schema layer is the only guard.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, Timestamps, UUIDPrimaryKey, enum_column, relationship


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


INVOICE_STATUS_VALUES = ", ".join(f"'{status.value}'" for status in InvoiceStatus)
OVERDUE_CANDIDATES = "status = 'open' AND overdue_notified_at IS NULL"


def _postgresql_check(condition: str, name: str) -> CheckConstraint:
    constraint = CheckConstraint(condition, name=name)
    return constraint.ddl_if(dialect="postgresql")


class Invoice(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        # A number is unique in its organization; drafts have none (NULLs never collide).
        UniqueConstraint("org_id", "number"),
        CheckConstraint(f"status IN ({INVOICE_STATUS_VALUES})", name="status_known"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        _postgresql_check(
            "subtotal >= 0 AND tax_total >= 0 AND total = subtotal + tax_total", "totals_add_up"
        ),
        _postgresql_check("amount_paid >= 0 AND amount_paid <= total", "paid_within_total"),
        # The list's sort orders, each with the id as the keyset's tie-breaker.
        Index("ix_invoices_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_invoices_org_id_issue_date_id", "org_id", "issue_date", "id"),
        Index("ix_invoices_org_id_due_date_id", "org_id", "due_date", "id"),
        # The overdue scan's candidates only (app/services/overdue.py), so it stays small.
        Index(
            "ix_invoices_overdue_candidates",
            "due_date",
            postgresql_where=text(OVERDUE_CANDIDATES),
            sqlite_where=text(OVERDUE_CANDIDATES),
        ),
    )

    # RESTRICT: a customer with invoices cannot be deleted (the service says so first, as a 409).
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus), default=InvoiceStatus.DRAFT)
    # INV-2026-000042, assigned when finalized.
    number: Mapped[str | None] = mapped_column(String(32), default=None)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    memo: Mapped[str | None] = mapped_column(Text, default=None)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    subtotal: Mapped[Decimal]
    tax_total: Mapped[Decimal]
    total: Mapped[Decimal]
    amount_paid: Mapped[Decimal]
    # Who created the draft: a member or an API key (one of the two, for `invoices:write_own`).
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    finalized_at: Mapped[datetime | None] = mapped_column(default=None)
    voided_at: Mapped[datetime | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last time the invoice was emailed to its customer, and to which address
    # (app/services/invoice_sending.py).
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_to: Mapped[str | None] = mapped_column(String(320), default=None)
    # When the overdue scan announced it (`invoice.overdue`): once per invoice
    # (app/services/overdue.py).
    overdue_notified_at: Mapped[datetime | None] = mapped_column(default=None)
    # Optimistic locking, as for customers: the ORM updates `WHERE version = <read>`.
    version: Mapped[int] = mapped_column(Integer, default=1)

    line_items: Mapped[list[InvoiceLineItem]] = relationship(
        back_populates="invoice",
        order_by="InvoiceLineItem.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __mapper_args__: dict[str, Any] = {"version_id_col": version}

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.amount_paid


class InvoiceLineItem(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "invoice_line_items"
    __table_args__ = (
        _postgresql_check("quantity > 0 AND quantity <= 1000000", "quantity_in_range"),
        _postgresql_check("unit_price >= 0 AND unit_price <= 1000000000000", "unit_price_in_range"),
        _postgresql_check("tax_rate >= 0 AND tax_rate <= 1", "tax_rate_in_range"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    tax_rate: Mapped[Decimal]
    # Derived from the three above and the invoice's currency, stored so that totals and
    # reports are sums in SQL and what was invoiced never changes with a rounding rule.
    line_total: Mapped[Decimal]
    tax_amount: Mapped[Decimal]

    invoice: Mapped[Invoice] = relationship(back_populates="line_items")


class InvoiceNumberCounter(UUIDPrimaryKey, TenantScoped, Base):
    """The last number given in an organization's year: one row, incremented under its lock.

    Finalizing increments it in the finalization's own transaction, so concurrent finalizers
    queue on the row and a rolled-back finalization gives its number back: gapless.
    """

    __tablename__ = "invoice_number_counters"
    __table_args__ = (UniqueConstraint("org_id", "year"),)

    year: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer)
