"""Payments received against an invoice."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, UUIDPrimaryKey, enum_column, utcnow


class PaymentMethod(StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    OTHER = "other"


PAYMENT_METHOD_VALUES = ", ".join(f"'{method.value}'" for method in PaymentMethod)


class Payment(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"method IN ({PAYMENT_METHOD_VALUES})", name="method_known"),
        CheckConstraint("amount > 0", name="amount_positive").ddl_if(dialect="postgresql"),
        Index("ix_payments_invoice_id_id", "invoice_id", "id"),
    )

    # RESTRICT: an invoice with payments is never deleted (only drafts are, and they have none).
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal]
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod))
    # When the money was received, as the client says; `created_at` is when it was recorded.
    paid_at: Mapped[datetime]
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
