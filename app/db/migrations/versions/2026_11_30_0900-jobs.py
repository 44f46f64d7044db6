"""jobs: durable background work (emails), periodic run keys, the outbox's wake-up and trace context

Revision ID: 0015_jobs
Revises: 0014_attachments
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.row_level_security import is_postgresql

revision: str = "0015_jobs"
down_revision: str | None = "0014_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'pending', 'running', 'succeeded', 'dead'"
# The relay LISTENs on this channel (app/tasks/relay.py): one notification per inserting
# statement, delivered when its transaction commits, so the relay wakes at once instead of
# at its next poll.
NOTIFY_FUNCTION = (
    "CREATE OR REPLACE FUNCTION notify_events_inserted() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_notify('invoicer_events', ''); RETURN NULL; END $$"
)
NOTIFY_TRIGGER = (
    "CREATE TRIGGER events_inserted AFTER INSERT ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION notify_events_inserted()"
)


def leased_work_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.String(length=9), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    ]


def leased_work_indexes(table: str) -> None:
    op.create_index(
        f"ix_{table}_due",
        table,
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        f"ix_{table}_leased",
        table,
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    )


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        *leased_work_columns(),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_jobs_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_jobs_dedupe_key")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_jobs_status_known")),
        sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name=op.f("ck_jobs_attempts_in_range")),
        sa.CheckConstraint("kind IN ('email')", name=op.f("ck_jobs_kind_known")),
    )
    op.create_index(op.f("ix_jobs_org_id"), "jobs", ["org_id"], unique=False)
    leased_work_indexes("jobs")
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("name", "slot", name=op.f("pk_periodic_runs")),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(length=55), nullable=True))
    if is_postgresql():
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    raise RuntimeError("forward-only migrations: write a new migration instead")
