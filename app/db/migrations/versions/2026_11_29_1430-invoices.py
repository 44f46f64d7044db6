"""invoices: drafts and issued invoices, their line items, and gapless number counters

Revision ID: 0012_invoices
Revises: 0010_events
Create Date: 2026-11-29 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.row_level_security import enable_tenant_isolation, is_postgresql
from app.models.base import ExactDecimal

revision: str = "0012_invoices"
down_revision: str | None = "0010_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Bounds of the exact decimal columns: PostgreSQL only (SQLite stores their digits as text).
_POSTGRESQL_CHECKS = {
    "invoices": {
        "totals_add_up": "subtotal >= 0 AND tax_total >= 0 AND total = subtotal + tax_total",
        "paid_within_total": "amount_paid >= 0 AND amount_paid <= total",
    },
    "invoice_line_items": {
        "quantity_in_range": "quantity > 0 AND quantity <= 1000000",
        "unit_price_in_range": "unit_price >= 0 AND unit_price <= 1000000000000",
        "tax_rate_in_range": "tax_rate >= 0 AND tax_rate <= 1",
    },
}


def _tenant_columns(table: str) -> list[sa.Column[object] | sa.Constraint]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f(f"fk_{table}_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=5), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("subtotal", ExactDecimal(), nullable=False),
        sa.Column("tax_total", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("amount_paid", ExactDecimal(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        *_tenant_columns("invoices"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_invoices_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_invoices_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_invoices_created_by_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("org_id", "number", name=op.f("uq_invoices_org_id_number")),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'paid', 'void')", name=op.f("ck_invoices_status_known")
        ),
        sa.CheckConstraint("due_date >= issue_date", name=op.f("ck_invoices_due_after_issue")),
    )
    op.create_index(op.f("ix_invoices_org_id"), "invoices", ["org_id"], unique=False)
    op.create_index(op.f("ix_invoices_customer_id"), "invoices", ["customer_id"], unique=False)
    for column in ("created_at", "issue_date", "due_date"):
        op.create_index(f"ix_invoices_org_id_{column}_id", "invoices", ["org_id", column, "id"], unique=False)

    op.create_table(
        "invoice_line_items",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("unit_price", ExactDecimal(), nullable=False),
        sa.Column("tax_rate", ExactDecimal(), nullable=False),
        sa.Column("line_total", ExactDecimal(), nullable=False),
        sa.Column("tax_amount", ExactDecimal(), nullable=False),
        *_tenant_columns("invoice_line_items"),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_line_items_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_invoice_line_items_org_id"), "invoice_line_items", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_invoice_line_items_invoice_id"), "invoice_line_items", ["invoice_id"], unique=False
    )

    op.create_table(
        "invoice_number_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        *_tenant_columns("invoice_number_counters"),
        sa.UniqueConstraint("org_id", "year", name=op.f("uq_invoice_number_counters_org_id_year")),
    )
    op.create_index(
        op.f("ix_invoice_number_counters_org_id"), "invoice_number_counters", ["org_id"], unique=False
    )

    if is_postgresql():
        for table, checks in _POSTGRESQL_CHECKS.items():
            for name, condition in checks.items():
                op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)
    for table in ("invoices", "invoice_line_items", "invoice_number_counters"):
        enable_tenant_isolation(table)


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
