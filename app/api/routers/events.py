"""/api/v1/orgs/{org_id}/events: the organization's state changes, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from app.api.contract import problems, response_header
from app.api.dependencies.core import SessionDep
from app.api.dependencies.pagination import CursorParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.errors import InvalidInputError, NotFoundError
from app.core.events import EventType
from app.core.permissions import Permission
from app.schemas.common import CursorPage
from app.schemas.events import EventPublic
from app.services import events
from app.services.events import EventFilters
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/events", tags=["events"])

EventReader = Annotated[OrgContext, Depends(RequirePermission(Permission.EVENTS_READ))]


def event_filters(
    types: Annotated[
        list[EventType] | None,
        Query(
            alias="type",
            max_length=len(EventType),
            description="Only events of these types; repeat it for several (`?type=a&type=b`).",
        ),
    ] = None,
    occurred_from: Annotated[
        AwareDatetime | None, Query(description="From this time on (inclusive; RFC 3339).")
    ] = None,
    occurred_to: Annotated[
        AwareDatetime | None, Query(description="Up to this time (inclusive; RFC 3339).")
    ] = None,
) -> EventFilters:
    if occurred_from is not None and occurred_to is not None and occurred_from > occurred_to:
        raise InvalidInputError(
            ["query", "occurred_from"], "must not be later than occurred_to", "range_reversed"
        )
    return EventFilters(types=frozenset(types or ()), occurred_from=occurred_from, occurred_to=occurred_to)


EventFiltersDep = Annotated[EventFilters, Depends(event_filters)]


@router.get(
    "",
    summary="The organization's events",
    description="Every state change in the organization (`customer.created`, ...), each with the "
    "object as the API returned it, newest first, with keyset pagination: follow `next_cursor` "
    "or the `Link` header. A cursor works only for the list and filters it came from. Filter by "
    "`type` (repeatable) and by `occurred_from`/`occurred_to`.",
    responses={200: {"headers": {"Link": response_header("Link", required=False)}}},
)
async def list_events(
    context: EventReader, session: SessionDep, page: CursorParamsDep, filters: EventFiltersDep
) -> CursorPage[EventPublic]:
    binding = f"events:{context.org_id}:{filters.binding()}"
    found = await events.list_events(
        session=session, filters=filters, after=page.position(binding=binding), limit=page.limit
    )
    last = found.items[-1].id if found.has_more and found.items else None
    return CursorPage[EventPublic](
        items=[EventPublic.from_model(event) for event in found.items],
        next_cursor=page.next_cursor(last, binding=binding),
    )


@router.get(
    "/{event_id}",
    summary="Read one event",
    description="An event of the organization, by its id: its type, when it occurred, who made the "
    "change in which request, and the object as the API returned it.",
    responses=problems(NotFoundError),
)
async def get_event(event_id: uuid.UUID, context: EventReader, session: SessionDep) -> EventPublic:
    return EventPublic.from_model(await events.get_event(session=session, event_id=event_id))
