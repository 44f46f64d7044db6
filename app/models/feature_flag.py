"""Per-organization overrides of the feature flags' defaults (app/core/features.py)."""

from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, Timestamps, UUIDPrimaryKey


class FeatureFlag(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "feature_flags"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool]
