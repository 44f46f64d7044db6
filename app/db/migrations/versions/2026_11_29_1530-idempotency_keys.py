"""idempotency_keys: the first successful response to a keyed POST, kept for its retries

Revision ID: 0011_idempotency_keys
Revises: 0013_payments
Create Date: 2026-11-29 15:30:00

Not a tenant table (a key belongs to a caller, a user across organizations or an API key), so
no row-level security; the API role gets its privileges from `invoicer migrate`, which grants
them on every table after each run (app/db/migrate.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_idempotency_keys"
down_revision: str | None = "0013_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False)


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
