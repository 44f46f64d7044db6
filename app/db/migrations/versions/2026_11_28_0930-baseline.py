"""baseline: an empty schema, so every database starts from one known revision

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-28 09:30:00
"""

from collections.abc import Sequence

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet: later revisions add tables."""


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
