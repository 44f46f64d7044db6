"""Conditional requests: `IfMatchDep` (required on PATCH and DELETE of versioned objects; the
service answers 428 without it, once the object is found) and `not_modified` for GETs with
`If-None-Match`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.api.contract import Declares, declare
from app.core.conditional import TagList
from app.core.errors import PreconditionFailedError, PreconditionRequiredError


async def if_match_precondition(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1024,
            description="The `ETag` of the version you read (`*` for any): required, so that a "
            "change made meanwhile by someone else is never overwritten unseen (412).",
        ),
    ] = None,
) -> TagList | None:
    # Missing is not refused here: a missing object is a 404 whatever the preconditions.
    return None if if_match is None else TagList.parse(if_match)


IfMatchDep = Annotated[TagList | None, Depends(if_match_precondition)]
declare(if_match_precondition, Declares(problems=(PreconditionRequiredError, PreconditionFailedError)))


def not_modified(request: Request, etag: str) -> bool:
    """True when `If-None-Match` already names this representation: answer 304, no body."""
    field = request.headers.get("if-none-match")
    return field is not None and TagList.parse(field).matches_weakly(etag)


async def if_match_optional(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1024,
            description="Optional: the `ETag` you read. When sent, the transition happens only if "
            "the invoice is still that version (412 otherwise).",
        ),
    ] = None,
) -> TagList | None:
    return None if if_match is None else TagList.parse(if_match)


# For state transitions, which the state machine already guards: `If-Match` narrows them further.
OptionalIfMatchDep = Annotated[TagList | None, Depends(if_match_optional)]
declare(if_match_optional, Declares(problems=(PreconditionFailedError,)))
