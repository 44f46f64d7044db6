"""invoice sending: sent and overdue marks on invoices, public invoice links, `invoice.sent`

Revision ID: 0017_invoice_sending
Revises: 0016_webhooks
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.row_level_security import enable_tenant_isolation

revision: str = "0017_invoice_sending"
down_revision: str | None = "0016_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a migration states the schema as it was at its revision.
EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "invoice.created",
    "invoice.updated",
    "invoice.finalized",
    "invoice.voided",
    "invoice.paid",
    "invoice.overdue",
    "invoice.sent",
    "invoice.deleted",
    "payment.created",
)
OVERDUE_CANDIDATES = "status = 'open' AND overdue_notified_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sent_to", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True))
    # The overdue scan's candidates only: open invoices not yet announced, by due date.
    op.create_index(
        "ix_invoices_overdue_candidates",
        "invoices",
        ["due_date"],
        unique=False,
        postgresql_where=sa.text(OVERDUE_CANDIDATES),
        sqlite_where=sa.text(OVERDUE_CANDIDATES),
    )
    op.create_table(
        "invoice_links",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_viewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_links_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_invoice_links_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invoice_links_token_hash")),
    )
    op.create_index(op.f("ix_invoice_links_invoice_id"), "invoice_links", ["invoice_id"], unique=False)
    op.create_index(op.f("ix_invoice_links_org_id"), "invoice_links", ["org_id"], unique=False)
    # A link is found by its token's hash before its organization is known (bind_credential).
    enable_tenant_isolation("invoice_links", readable_by_credential_column="token_hash")
    # SQLite cannot alter a constraint: batch mode copies the table with the new one.
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_constraint("type_known", type_="check")
        batch_op.create_check_constraint(
            "type_known", "type IN (" + ", ".join(f"'{name}'" for name in EVENT_TYPES) + ")"
        )


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
