"""Files attached to an invoice: the metadata here, the bytes in object storage (app/clients/storage.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, UUIDPrimaryKey, enum_column, utcnow


class AttachmentKind(StrEnum):
    RECEIPT = "receipt"
    CONTRACT = "contract"
    TIMESHEET = "timesheet"
    OTHER = "other"


ATTACHMENT_KIND_VALUES = ", ".join(f"'{kind.value}'" for kind in AttachmentKind)


class Attachment(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint(f"kind IN ({ATTACHMENT_KIND_VALUES})", name="kind_known"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_attachments_invoice_id_id", "invoice_id", "id"),
    )

    # CASCADE: deleting a draft removes its attachments' rows (the objects are removed by the
    # service that deletes the draft, or swept; see docs/invoicing.md).
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    kind: Mapped[AttachmentKind] = mapped_column(enum_column(AttachmentKind))
    description: Mapped[str] = mapped_column(String(500))
    # The client's name, sanitized, for display and downloads only: it never names the object.
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # A PDF with JavaScript: stored, flagged, and (like every attachment) only ever downloaded.
    active_content: Mapped[bool] = mapped_column(Boolean, default=False)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
