"""Shapes shared by every resource: list envelopes and strict input models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer


def _rfc3339_utc(value: datetime) -> str:
    """RFC 3339 in UTC with `Z` (PRODUCT.md §3), never `+00:00`."""
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(_rfc3339_utc, return_type=str, when_used="json")]


class StrictInput(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


ItemT = TypeVar("ItemT")

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _single_line(value: str) -> str:
    # PostgreSQL refuses NUL in text outright (a 500 if it got that far) while SQLite stores
    # it; refusing here keeps both modes alike, and names never need control characters.
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters (tabs, line breaks, NUL)")
    return value


# Names, titles, identifiers typed by people: printable, one line.
SingleLineText = Annotated[str, AfterValidator(_single_line)]


def reject_null(value: object) -> object:
    """For PATCH fields that may be omitted but not cleared: an explicit null is an error."""
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


class OffsetPage(BaseModel, Generic[ItemT]):
    """A bounded list: members, invitations, API keys, webhook endpoints, sessions."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int
