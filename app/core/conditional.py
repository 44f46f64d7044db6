"""Entity tags and preconditions (RFC 9110 §8.8.3, §13): optimistic concurrency for the API.

A representation's ETag is its row's version, quoted (`"3"`): strong, the same on every
replica, and changed by every modification. `If-Match` compares strongly (a weak `W/"3"`
never matches), `If-None-Match` weakly (RFC 9110 §13.1.1, §13.1.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import PreconditionFailedError, PreconditionRequiredError

# One entity tag in a list: optional weakness prefix, then a quoted opaque string.
_ENTITY_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def entity_tag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True, slots=True)
class TagList:
    """An `If-Match` or `If-None-Match` field: `*`, or entity tags (weak ones marked)."""

    any: bool
    strong: frozenset[str]
    weak: frozenset[str]

    @classmethod
    def parse(cls, field: str) -> TagList:
        """A malformed list matches nothing (so `If-Match` fails safe, with 412)."""
        if field.strip() == "*":
            return cls(any=True, strong=frozenset(), weak=frozenset())
        strong: set[str] = set()
        weak: set[str] = set()
        position = 0
        while position < len(field):
            found = _ENTITY_TAG.match(field, position)
            if found is None or found.end() == position:
                return cls(any=False, strong=frozenset(), weak=frozenset())
            (weak if found.group(1) else strong).add(found.group(2))
            position = found.end()
        return cls(any=False, strong=frozenset(strong), weak=frozenset(weak))

    def matches_strongly(self, tag: str) -> bool:
        return self.any or tag in self.strong

    def matches_weakly(self, tag: str) -> bool:
        return self.any or tag in self.strong or tag in self.weak


def ensure_current(if_match: TagList | None, *, version: int) -> None:
    """428 without `If-Match`, 412 unless it names the current representation. Called once the
    object is found: a missing object is a 404 whatever the precondition."""
    ensure_matches(if_match, current=entity_tag(version))


def ensure_matches(if_match: TagList | None, *, current: str, required: bool = True) -> None:
    """As `ensure_current`, for a representation whose tag is more than its version; with
    `required=False` a request without `If-Match` passes (the state machine guards it)."""
    if if_match is None:
        if not required:
            return
        raise PreconditionRequiredError("Send If-Match with the ETag of the version you read.")
    if not if_match.matches_strongly(current):
        raise PreconditionFailedError(
            "The object changed since you read it (If-Match does not match its ETag): read it again.",
            headers={"ETag": current},
        )
