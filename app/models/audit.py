"""The audit log: who did what to which object of an organization, appended in the same
transaction as the change, and never changed afterwards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, event, func
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, UUIDPrimaryKey, utcnow


class AuditLogEntry(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_id_id", "org_id", "id"),)

    actor_type: Mapped[str] = mapped_column(String(16))  # "user", "api_key" or "system"
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(200))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AuditLogIsAppendOnlyError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context: Any, _instances: Any) -> None:
    """No code path changes or deletes an entry (on PostgreSQL the API role cannot either)."""
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, AuditLogEntry):
            raise AuditLogIsAppendOnlyError("audit log entries are never changed or deleted")
