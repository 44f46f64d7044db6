"""tenancy: row-level security on tenant tables; organizations are deleted softly

Revision ID: 0004_tenancy
Revises: 0003_one_time_token_sent_to
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.row_level_security import create_scope_functions, enable_tenant_isolation

revision: str = "0004_tenancy"
down_revision: str | None = "0003_one_time_token_sent_to"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    create_scope_functions()
    enable_tenant_isolation("memberships", readable_by_user_column="user_id")


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
