"""Public links to an invoice: the hosted page an emailed invoice points at (`/i/{token}`).

The token is a bearer secret in a URL: 256 random bits, stored only as a keyed hash
(app/core/security/invoice_links.py), like an API key's. Its row is found by that hash before
its organization is known (`bind_credential`, with the row-level security policy that makes a
presented hash's own row readable); the organization is then bound to read the invoice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, UUIDPrimaryKey, utcnow


class InvoiceLink(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "invoice_links"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # A revoked link answers 404, as an unknown one does.
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written at most once a minute (app/services/invoice_links.py).
    last_viewed_at: Mapped[datetime | None] = mapped_column(default=None)

    visible_by_credential_column = "token_hash"
