"""Customers: who an organization invoices."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, Timestamps, UUIDPrimaryKey


class Customer(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    # {line1, line2, city, region, postal_code, country}: always read and written whole.
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tax_id: Mapped[str | None] = mapped_column(String(64))
    # `metadata` is the declarative base's own attribute: the column keeps the API's name.
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    # Bumped by every change; the ORM updates `WHERE version = <read>`, so of two concurrent
    # writers with the same ETag one updates nothing and is told so (optimistic locking).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
