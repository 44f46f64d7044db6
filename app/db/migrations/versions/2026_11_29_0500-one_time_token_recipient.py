"""one-time tokens remember the address they were sent to (valid only while the account has it)

Revision ID: 0003_one_time_token_sent_to
Revises: 0002_identity
Create Date: 2026-11-29 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_one_time_token_sent_to"
down_revision: str | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Expand, backfill, then constrain: tokens issued before this revision were sent to the
    # account's current address.
    with op.batch_alter_table("one_time_tokens") as batch_op:
        batch_op.add_column(sa.Column("sent_to", sa.String(length=320), nullable=True))
    op.execute(
        "UPDATE one_time_tokens SET sent_to = "
        "(SELECT users.email FROM users WHERE users.id = one_time_tokens.user_id)"
    )
    with op.batch_alter_table("one_time_tokens") as batch_op:
        batch_op.alter_column("sent_to", existing_type=sa.String(length=320), nullable=False)


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
