"""events: the transactional outbox of state changes, in the API's public shapes

Revision ID: 0010_events
Revises: 0009_customers
Create Date: 2026-11-29 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.row_level_security import enable_tenant_isolation

revision: str = "0010_events"
down_revision: str | None = "0009_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a migration states the schema of its own moment.
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
    "invoice.deleted",
    "payment.created",
)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("type", sa.String(length=17), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "type IN (" + ", ".join(f"'{name}'" for name in EVENT_TYPES) + ")",
            name=op.f("ck_events_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_events_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_org_id"), "events", ["org_id"], unique=False)
    op.create_index("ix_events_org_id_id", "events", ["org_id", "id"], unique=False)
    op.create_index(
        "ix_events_unrelayed",
        "events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("relayed_at IS NULL"),
        sqlite_where=sa.text("relayed_at IS NULL"),
    )
    enable_tenant_isolation("events")


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
