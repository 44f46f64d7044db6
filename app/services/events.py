"""Events: the transactional outbox of every state change, and the list that reads it.

A service that changes an object records its event in the same transaction as the change
(`record_change`), so an event exists exactly when its change committed: a failed change
leaves none, and the outbox relay (a later worker) never announces what did not happen.
`data` is the object in its public schema, as the API returned it with the change, so a
consumer reads an event as it would have read the response.

`record_change` writes the audit entry and the event together: the two answer different
questions (the audit log: who changed what, summarised, for administrators; events: the
object itself, for integrations), but a change of a product object owes both, named alike
(`customer.created`). Changes that are not product events (members, keys, organization
settings) call `audit.record` alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFoundError
from app.core.events import EventType
from app.core.logging.context import current_request_id
from app.core.tracing import current_traceparent
from app.models import Event
from app.services import audit, reports

if TYPE_CHECKING:
    from app.services.audit import Actor

NO_SUCH_EVENT = "No such event."


@dataclass(frozen=True, slots=True)
class EventFilters:
    types: frozenset[EventType] = frozenset()
    # Both inclusive.
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None

    def binding(self) -> str:
        """What a cursor of this list is bound to (app/core/security/cursors.py): the same
        filters in any order or time zone bind alike."""
        times = (self.occurred_from, self.occurred_to)
        return "|".join(
            (
                ",".join(sorted(self.types)),
                *(moment.astimezone(UTC).isoformat() if moment is not None else "" for moment in times),
            )
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[Event]
    has_more: bool


def record(session: AsyncSession, context: Actor, *, type: EventType, data: BaseModel) -> Event:
    """Add the event to the session: it is written with the change, in the same transaction.

    `data` is the object's public schema (the response model), dumped as JSON here.
    """
    actor_type, actor_id = audit.actor_of(context)
    event = Event(
        org_id=context.org_id,
        type=type,
        data=data.model_dump(mode="json"),
        request_id=current_request_id(),
        traceparent=current_traceparent(),
        actor_type=actor_type,
        actor_id=actor_id,
    )
    session.add(event)
    session.info[_EVENTS_WRITTEN] = True
    return event


_EVENTS_WRITTEN = "invoicer.events_written"


def events_written(session: AsyncSession) -> bool:
    """Whether this unit of work wrote events (read once, after its commit, to wake the relay)."""
    return bool(session.info.pop(_EVENTS_WRITTEN, False))


# The changes reports count: drafts are not counted, so creating, editing or deleting one is not.
FIGURE_EVENTS = frozenset(
    {
        EventType.INVOICE_FINALIZED,
        EventType.INVOICE_VOIDED,
        EventType.INVOICE_PAID,
        EventType.INVOICE_OVERDUE,
        EventType.PAYMENT_CREATED,
    }
)


def record_change(
    session: AsyncSession,
    context: Actor,
    *,
    type: EventType,
    data: BaseModel,
    changes: dict[str, Any] | None = None,
) -> Event:
    """The audit entry (action = the event type, target = the object's id) and the event.

    A change that moves the organization's figures (docs: reports) marks it, so the report
    cache's version is bumped once this transaction commits.
    """
    if type in FIGURE_EVENTS:
        reports.mark_figures_changed(session, context.org_id)
    event = record(session, context, type=type, data=data)
    audit.record(
        session,
        context,
        action=type.value,
        target_type=type.object_type,
        target_id=str(event.data["id"]),
        changes=changes,
    )
    return event


async def get_event(*, session: AsyncSession, event_id: uuid.UUID) -> Event:
    """The event, in the organization the session is bound to; 404 otherwise."""
    event = await session.scalar(select(Event).where(Event.id == event_id))
    if event is None:
        raise NotFoundError(NO_SUCH_EVENT)
    return event


async def list_events(
    *, session: AsyncSession, filters: EventFilters, after: uuid.UUID | None, limit: int
) -> EventPage:
    """Newest first (ids are time-ordered UUIDv7), from after the cursor's position."""
    query = select(Event).order_by(Event.id.desc()).limit(limit + 1)
    if after is not None:
        query = query.where(Event.id < after)
    if filters.types:
        query = query.where(Event.type.in_(sorted(filters.types)))
    if filters.occurred_from is not None:
        query = query.where(Event.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        query = query.where(Event.occurred_at <= filters.occurred_to)
    rows = list(await session.scalars(query))
    return EventPage(items=rows[:limit], has_more=len(rows) > limit)
