"""Invoices as the API shows and accepts them.

Every amount, quantity, price and rate is a decimal *string* (app/core/money.py): sent as one,
returned as one, exactly as stored. Dates are `YYYY-MM-DD` strings only (a JSON number is not
taken for a Unix time).
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.core.money import AmountOut, CurrencyCode, Quantity, TaxRate, UnitPrice
from app.models.invoice import InvoiceStatus
from app.schemas.auth import examples
from app.schemas.common import SingleLineText, StrictInput, UtcDateTime, reject_null
from app.schemas.customers import Metadata

if TYPE_CHECKING:
    from app.models import Invoice, InvoiceLineItem

MAX_LINE_ITEMS = 100

_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_text(value: object) -> object:
    # Without this, pydantic would also take 1764547200 (a Unix time) or "2026-11-29T00:00".
    if isinstance(value, date) or (isinstance(value, str) and _DATE_TEXT.fullmatch(value)):
        return value
    raise PydanticCustomError("date_format", "must be a date written as YYYY-MM-DD")


# Far enough back for imported history, far enough ahead for any due date; a year 0 or 20000
# is a typo or a probe, not an invoice.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)


def _date_in_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError("date_out_of_range", "must be between 1900-01-01 and 2999-12-31")
    return value


InvoiceDate = Annotated[
    date,
    BeforeValidator(_date_text),
    AfterValidator(_date_in_range),
    Field(description="A calendar date, `YYYY-MM-DD`, from 1900 to 2999."),
]
Description = Annotated[str, SingleLineText(max_length=500)]
Memo = Annotated[str, SingleLineText(max_length=1000)]


class InvoiceSort(StrEnum):
    """`field` ascending, `-field` descending; ties are broken by the invoice id, the same way."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    ISSUE_DATE = "issue_date"
    ISSUE_DATE_DESC = "-issue_date"
    DUE_DATE = "due_date"
    DUE_DATE_DESC = "-due_date"
    TOTAL = "total"
    TOTAL_DESC = "-total"

    @property
    def column(self) -> str:
        return self.value.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


class LineItemIn(StrictInput):
    description: Description
    quantity: Quantity
    unit_price: UnitPrice
    tax_rate: TaxRate = Field(default=Decimal(0), description='A fraction: "0.19" is 19 %.')


LineItems = Annotated[list[LineItemIn], Field(min_length=1, max_length=MAX_LINE_ITEMS)]


def _due_not_before_issue(issue_date: date | None, due_date: date | None) -> None:
    if issue_date is not None and due_date is not None and due_date < issue_date:
        raise PydanticCustomError("due_before_issue", "due_date must not be before issue_date")


class InvoiceCreate(StrictInput):
    """A draft: everything but the number, which finalizing assigns."""

    model_config = examples(
        {
            "customer_id": "0192f3c8-5a1e-7c2d-9b7a-3f0e8d6c4b21",
            "currency": "EUR",
            "issue_date": "2026-11-29",
            "due_date": "2026-12-29",
            "memo": "Thank you for your business.",
            "metadata": {"order": "A-1001"},
            "line_items": [
                {
                    "description": "Consulting, November",
                    "quantity": "12.5",
                    "unit_price": "120.00",
                    "tax_rate": "0.19",
                }
            ],
        }
    )

    customer_id: uuid.UUID
    currency: CurrencyCode
    issue_date: InvoiceDate
    due_date: InvoiceDate
    memo: Memo | None = None
    metadata: Metadata = Field(default_factory=dict)
    line_items: LineItems

    @model_validator(mode="after")
    def _dates_in_order(self) -> InvoiceCreate:
        _due_not_before_issue(self.issue_date, self.due_date)
        return self


class InvoiceUpdate(StrictInput):
    """PATCH of a draft: only the fields sent change; null clears `memo`; `line_items`, when
    sent, replace all the lines. The totals, status and number are the server's."""

    model_config = examples({"due_date": "2027-01-15", "memo": None})

    customer_id: uuid.UUID | None = None
    currency: CurrencyCode | None = None
    issue_date: InvoiceDate | None = None
    due_date: InvoiceDate | None = None
    memo: Memo | None = None
    metadata: Metadata | None = None
    line_items: LineItems | None = None

    _not_null = field_validator(
        "customer_id", "currency", "issue_date", "due_date", "metadata", "line_items", mode="before"
    )(reject_null)

    @model_validator(mode="after")
    def _dates_in_order(self) -> InvoiceUpdate:
        _due_not_before_issue(self.issue_date, self.due_date)
        return self


class LineItemPublic(BaseModel):
    description: str
    quantity: AmountOut
    unit_price: AmountOut
    tax_rate: AmountOut
    line_total: AmountOut
    tax_amount: AmountOut

    @classmethod
    def from_model(cls, line: InvoiceLineItem) -> LineItemPublic:
        return cls(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
            line_total=line.line_total,
            tax_amount=line.tax_amount,
        )


class Creator(BaseModel):
    """Who created the invoice: a member (`user`) or an API key; null once that was deleted."""

    type: Literal["user", "api_key"]
    id: uuid.UUID


class InvoiceSummary(BaseModel):
    """An invoice without its line items: what lists return."""

    id: uuid.UUID
    number: str | None = Field(description="`INV-YYYY-NNNNNN`, assigned when finalized; null for a draft.")
    status: InvoiceStatus
    customer_id: uuid.UUID
    currency: str
    issue_date: date
    due_date: date
    memo: str | None
    metadata: dict[str, str]
    subtotal: AmountOut
    tax_total: AmountOut
    total: AmountOut
    amount_paid: AmountOut
    amount_due: AmountOut
    overdue: bool = Field(description="Open and past its due date (UTC).")
    created_by: Creator | None
    finalized_at: UtcDateTime | None
    voided_at: UtcDateTime | None
    paid_at: UtcDateTime | None
    sent_at: UtcDateTime | None = Field(
        description="When the invoice was last emailed to its customer (`POST .../send`); null if never."
    )
    sent_to: str | None = Field(description="The address it was last emailed to.")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def fields_of(cls, invoice: Invoice, *, today: date) -> dict[str, object]:
        if invoice.created_by_user_id is not None:
            creator: Creator | None = Creator(type="user", id=invoice.created_by_user_id)
        elif invoice.created_by_api_key_id is not None:
            creator = Creator(type="api_key", id=invoice.created_by_api_key_id)
        else:
            creator = None
        return {
            "id": invoice.id,
            "number": invoice.number,
            "status": invoice.status,
            "customer_id": invoice.customer_id,
            "currency": invoice.currency,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "memo": invoice.memo,
            "metadata": invoice.metadata_,
            "subtotal": invoice.subtotal,
            "tax_total": invoice.tax_total,
            "total": invoice.total,
            "amount_paid": invoice.amount_paid,
            "amount_due": invoice.amount_due,
            "overdue": is_overdue(invoice, today=today),
            "created_by": creator,
            "finalized_at": invoice.finalized_at,
            "voided_at": invoice.voided_at,
            "paid_at": invoice.paid_at,
            "sent_at": invoice.sent_at,
            "sent_to": invoice.sent_to,
            "created_at": invoice.created_at,
            "updated_at": invoice.updated_at,
        }

    @classmethod
    def from_model(cls, invoice: Invoice, *, today: date) -> InvoiceSummary:
        return cls.model_validate(cls.fields_of(invoice, today=today))


class InvoicePublic(InvoiceSummary):
    """An invoice with its line items: what a single read returns."""

    line_items: list[LineItemPublic]

    @classmethod
    def from_model(cls, invoice: Invoice, *, today: date) -> InvoicePublic:
        fields = cls.fields_of(invoice, today=today)
        fields["line_items"] = [LineItemPublic.from_model(line) for line in invoice.line_items]
        return cls.model_validate(fields)


def is_overdue(invoice: Invoice, *, today: date) -> bool:
    return invoice.status == InvoiceStatus.OPEN and invoice.due_date < today
