"""Organizations (the tenants) and who belongs to them, with which role."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.permissions import Role
from app.db.session.tenancy import TenantScoped
from app.models.base import Base, Timestamps, UUIDPrimaryKey, enum_column, relationship

if TYPE_CHECKING:
    from app.models.user import User

ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class Organization(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # Deleting an organization stamps this: it disappears from every API answer at once, and
    # its rows stay until an operator purges them (docs/operations.md).
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization")


class Membership(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "org_id"),
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))

    visible_to_member_column = "user_id"  # a user lists their own organizations

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships")
