"""User accounts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UUIDPrimaryKey, relationship

if TYPE_CHECKING:
    from app.models.organization import Membership


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    # Stored normalized (app/core/email_address.py: NFKC, trimmed, lower-case), so the unique
    # constraint is case-insensitive.
    # Requests bound addresses to EMAIL_MAX_LENGTH (254) characters after normalisation, below
    # the column's 320, so no accepted address can fail to fit (a test keeps the two in step).
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_platform_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    email_verified_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None
