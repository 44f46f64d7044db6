"""The events table: a transactional outbox of every state change, in the API's public shapes.

Each change adds its event in the change's own transaction, so an event exists exactly when
its change committed. Events are appended and never changed, except that the outbox relay
stamps `relayed_at` once it has passed one on (on PostgreSQL the API role may update that
column alone: app/db/migrate.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, event, func, inspect, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.events import EventType
from app.db.session.tenancy import TenantScoped
from app.models.base import Base, UUIDPrimaryKey, enum_column, utcnow

EVENT_TYPE_VALUES = ", ".join(f"'{event_type.value}'" for event_type in EventType)


class Event(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(f"type IN ({EVENT_TYPE_VALUES})", name="type_known"),
        # An organization's events, newest first, in keyset pages.
        Index("ix_events_org_id_id", "org_id", "id"),
        # The relay's queue: what is not yet passed on, oldest first (ids are time-ordered).
        # Partial, so it stays as small as the backlog however long the table grows.
        Index(
            "ix_events_unrelayed",
            "id",
            postgresql_where=text("relayed_at IS NULL"),
            sqlite_where=text("relayed_at IS NULL"),
        ),
    )

    type: Mapped[EventType] = mapped_column(enum_column(EventType))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # The object as the API returns it (its public schema, dumped as JSON), at the change.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(200))
    actor_type: Mapped[str] = mapped_column(String(16))  # "user", "api_key" or "system"
    actor_id: Mapped[uuid.UUID | None]
    relayed_at: Mapped[datetime | None]
    # The W3C trace context of the request that made the change: the relay's fan-out and the
    # webhook deliveries continue that trace (app/tasks/tracing.py).
    traceparent: Mapped[str | None] = mapped_column(String(55))


# The one column a stored event may change: the relay's mark.
_MUTABLE = frozenset({"relayed_at"})


class EventIsAppendOnlyError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context: Any, _instances: Any) -> None:
    """No code path rewrites or deletes an event (on PostgreSQL the API role cannot either)."""
    for instance in session.deleted:
        if isinstance(instance, Event):
            raise EventIsAppendOnlyError("events are never deleted")
    for instance in session.dirty:
        if isinstance(instance, Event):
            changed = {attr.key for attr in inspect(instance).attrs if attr.history.has_changes()}
            if changed - _MUTABLE:
                raise EventIsAppendOnlyError(f"events never change, but {sorted(changed - _MUTABLE)} did")
