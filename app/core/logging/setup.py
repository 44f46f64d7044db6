"""structlog for our code and the stdlib loggers of uvicorn, SQLAlchemy and Alembic alike."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import MutableMapping
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import Processor

from app.core.logging.exceptions import scrub_exception_processor
from app.core.logging.redaction import redaction_processor


def _drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn attaches an ANSI-coloured copy of each message; one copy is enough."""
    event_dict.pop("color_message", None)
    return event_dict


def _orjson_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(*, level: str = "INFO", log_format: Literal["console", "json"] = "console") -> None:
    """Route every log record through one pipeline: context, redaction, one renderer."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
    ]
    renderer: Processor
    if log_format == "json":
        # Exceptions become structured fields, never a raw multi-line trace; frames without
        # their local variables, which hold what a function works on (forms, hashes, tokens).
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final: list[Processor] = [
            scrub_exception_processor,
            structlog.processors.ExceptionRenderer(tracebacks),
            redaction_processor,
        ]
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    else:
        final = [scrub_exception_processor, redaction_processor]
        # Plain tracebacks: rich's pretty ones take seconds and print local variables (secrets).
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "foreign_pre_chain": shared,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        *final,
                        renderer,
                    ],
                }
            },
            "handlers": {
                "default": {
                    "class": "logging.StreamHandler",
                    "formatter": "structured",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"handlers": ["default"], "level": level},
            "loggers": {
                # Requests are logged once, by our access-log middleware.
                "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
                "uvicorn": {"handlers": [], "propagate": True},
                "uvicorn.error": {"handlers": [], "propagate": True},
                "sqlalchemy.engine": {"level": "WARNING"},
                "alembic": {"level": "INFO"},
                "alembic.runtime.plugins": {"level": "WARNING"},
            },
        }
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
