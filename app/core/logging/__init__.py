"""Structured logging, redaction and the request context they share."""

from app.core.logging.context import (
    TraceParent,
    current_request_id,
    is_acceptable_request_id,
    parse_traceparent,
    request_id_var,
)
from app.core.logging.redaction import REDACTED, redact
from app.core.logging.setup import configure_logging, get_logger

__all__ = [
    "REDACTED",
    "TraceParent",
    "configure_logging",
    "current_request_id",
    "get_logger",
    "is_acceptable_request_id",
    "parse_traceparent",
    "redact",
    "request_id_var",
]
