"""Sending an invoice, as the API shows it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from app.schemas.auth import examples
from app.schemas.common import UtcDateTime

if TYPE_CHECKING:
    from app.services.invoice_sending import Sending


class InvoiceEmail(BaseModel):
    """The queued email: sent by a worker, with retries."""

    id: uuid.UUID = Field(description="The email's job id.")
    status: Literal["pending", "running", "succeeded", "dead"] = Field(
        description="`pending` until a worker sends it (and between retries), `succeeded` once the "
        "mail server took it, `dead` if it could not be delivered after every retry."
    )
    queued_at: UtcDateTime
    finished_at: UtcDateTime | None = Field(description="When it was sent, or given up; null until then.")


class InvoiceSendPublic(BaseModel):
    """What a send queued: the email carrying this version of the invoice."""

    model_config = examples(
        {
            "invoice_id": "0192f3c8-5a1e-7c2d-9b7a-3f0e8d6c4b21",
            "invoice_version": 3,
            "to": "billing@globex.example.com",
            "sent_at": "2026-11-30T11:00:00Z",
            "email": {
                "id": "0192f3c8-6b2f-7d3e-8c8b-4a1f9e7d5c32",
                "status": "succeeded",
                "queued_at": "2026-11-30T11:00:00Z",
                "finished_at": "2026-11-30T11:00:02Z",
            },
        }
    )

    invoice_id: uuid.UUID
    invoice_version: int = Field(description="The version of the invoice the email shows.")
    to: str = Field(description="The customer's address the email goes to.")
    sent_at: UtcDateTime = Field(description="When the invoice was sent (the email queued).")
    email: InvoiceEmail

    @classmethod
    def from_sending(cls, sending: Sending) -> InvoiceSendPublic:
        invoice, job = sending.invoice, sending.job
        assert invoice.sent_at is not None
        assert invoice.sent_to is not None
        return cls(
            invoice_id=invoice.id,
            invoice_version=invoice.version,
            to=invoice.sent_to,
            sent_at=invoice.sent_at,
            email=InvoiceEmail(
                id=job.id, status=job.status.value, queued_at=job.created_at, finished_at=job.finished_at
            ),
        )
