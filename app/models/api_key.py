"""API keys: opaque bearer credentials of one organization, with a subset of its permissions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, UUIDPrimaryKey, utcnow


class ApiKey(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(100))
    # What lists show (`ik_` and 8 characters); the secret itself is never stored.
    display_prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    # Found by its secret alone (before its organization is known): see app/db/session/tenancy.py.
    visible_by_credential_column = "secret_hash"
