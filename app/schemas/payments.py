"""Payments as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field
from pydantic_core import PydanticCustomError

from app.core.money import AmountOut, DecimalText
from app.models.payment import PaymentMethod
from app.schemas.auth import examples
from app.schemas.common import SingleLineText, StrictInput, UtcDateTime

if TYPE_CHECKING:
    from app.models import Payment

# More than zero; the upper bound that matters is the invoice's amount due (checked on write).
PaymentAmount = Annotated[
    Decimal, DecimalText(minimum=Decimal(0), maximum=Decimal(10**18), minimum_excluded=True)
]


def _utc(value: datetime) -> datetime:
    if value.year < 1900:
        raise PydanticCustomError("datetime_out_of_range", "must be after 1900")
    return value.astimezone(UTC)


class PaymentCreate(StrictInput):
    model_config = examples(
        {
            "amount": "150.00",
            "method": "bank_transfer",
            "paid_at": "2026-11-29T10:00:00Z",
            "reference": "SEPA 4711",
        }
    )

    amount: PaymentAmount
    method: PaymentMethod
    paid_at: Annotated[AwareDatetime, AfterValidator(_utc)] | None = Field(
        default=None, description="When the money was received (RFC 3339 with a zone); now if omitted."
    )
    reference: Annotated[str, SingleLineText(max_length=200)] | None = None


class PaymentPublic(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    amount: AmountOut
    method: PaymentMethod
    paid_at: UtcDateTime
    reference: str | None
    created_at: UtcDateTime

    @classmethod
    def from_model(cls, payment: Payment) -> PaymentPublic:
        return cls(
            id=payment.id,
            invoice_id=payment.invoice_id,
            amount=payment.amount,
            method=payment.method,
            paid_at=payment.paid_at,
            reference=payment.reference,
            created_at=payment.created_at,
        )
