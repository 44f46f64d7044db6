"""Per-request context shared by logs, error bodies, outbound calls and jobs."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# A client's request id of 20-200 chars from this alphabet is kept, anything else replaced.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9+/=_-]{20,200}")
# W3C Trace Context: lowercase hex only; version ff is invalid; version 00 has no suffix.
_TRACEPARENT_PATTERN = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)


def current_request_id() -> str | None:
    return request_id_var.get()


def is_acceptable_request_id(value: str) -> bool:
    return _REQUEST_ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class TraceParent:
    trace_id: str
    parent_id: str
    sampled: bool


def parse_traceparent(value: str | None) -> TraceParent | None:
    """The parsed header, or None when absent or invalid (an invalid one is ignored)."""
    if not value:
        return None
    match = _TRACEPARENT_PATTERN.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id = match["version"], match["trace_id"], match["parent_id"]
    if version == "ff" or (version == "00" and match["rest"]):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent(trace_id=trace_id, parent_id=parent_id, sampled=int(match["flags"], 16) & 1 == 1)
