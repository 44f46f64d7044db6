"""Durable background work: the truth about every job lives here, not in the broker.

The broker (RabbitMQ, or taskiq's in-memory broker in the embedded mode) only carries
wake-ups: "look at row X". A row says what must be done, how often it was tried, when it may
be tried next and who holds it now (a lease with an expiry). So a lost message, a broker
restart or a worker killed mid-attempt loses nothing: the sweeper (app/tasks/sweeper.py) wakes
what is due again and takes back leases that expired.

`LeasedWork` is the shape every kind of durable work shares (an email in `jobs`, a webhook
delivery in `webhook_deliveries`); app/services/leases.py holds the one set of rules for it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, enum_column, utcnow


class WorkStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (at `next_attempt_at`)
    RUNNING = "running"  # leased by a worker until `lease_expires_at`
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts, or refused for good: kept, visible and replayable


WORK_STATUS_VALUES = ", ".join(f"'{status.value}'" for status in WorkStatus)


class LeasedWork:
    """The columns of a unit of durable work (its table adds `leased_work_table_args`)."""

    status: Mapped[WorkStatus] = mapped_column(enum_column(WorkStatus), default=WorkStatus.PENDING)
    # Attempts started, counted when a lease is taken: an attempt that crashed the worker counts,
    # so a message that kills every worker that takes it is dead after `max_attempts`.
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a wake-up for the current attempt was last published: the sweeper publishes again
    # only if that one seems lost.
    enqueued_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None]


def leased_work_table_args(table: str) -> tuple[CheckConstraint | Index, ...]:
    """The constraints and the sweeper's two indexes of a `LeasedWork` table (each over the rows
    its scan can act on only, so they stay as small as the backlog)."""
    return (
        CheckConstraint(f"status IN ({WORK_STATUS_VALUES})", name="status_known"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts_in_range"),
        Index(
            f"ix_{table}_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            f"ix_{table}_leased",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )


class JobKind(StrEnum):
    EMAIL = "email"


class Job(UUIDPrimaryKey, LeasedWork, Base):
    """A job that is not a webhook delivery: today, an email that must not be lost.

    Not tenant-scoped: some mail belongs to no organization (an address's verification). The
    payload is sealed (app/core/security/sealing.py): an email carries a one-time link, and a
    copy of the database must not hand it out.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        *leased_work_table_args("jobs"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind.value}'" for kind in JobKind) + ")", name="kind_known"
        ),
    )

    kind: Mapped[JobKind] = mapped_column(enum_column(JobKind))
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # Set when doing the work twice would be wrong (an invoice sent once per version): a
    # second job with the same key is never created.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class PeriodicRun(Base):
    """One row per periodic job and time slot: the first scheduler to insert it runs the job,
    any other (a second scheduler, a retry) finds it and does nothing."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    slot: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(1000))
