"""Mask secrets in log events, at any depth, before anything renders them."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[REDACTED]"

# Substrings of key names whose values never reach a log line.
SENSITIVE_KEY_PATTERN = re.compile(
    r"pass(word|wd)?|secret|token|authorization|cookie|api[_-]?key|private[_-]?key|credential"
    r"|signature|csrf",
    re.IGNORECASE,
)
_MAX_DEPTH = 8


def is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and SENSITIVE_KEY_PATTERN.search(key) is not None


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with every value under a sensitive key replaced."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_key(key) else redact(item, depth + 1) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        # Header lists arrive as (name, value) pairs: judge the pair by its name.
        if len(value) == 2 and is_sensitive_key(value[0]) and isinstance(value[1], (str, bytes)):
            return [value[0], REDACTED] if isinstance(value, list) else (value[0], REDACTED)
        items = [redact(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def redaction_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: runs last before rendering, so nothing escapes it."""
    for key in list(event_dict):
        if key == "event":
            continue
        event_dict[key] = REDACTED if is_sensitive_key(key) else redact(event_dict[key])
    return event_dict
