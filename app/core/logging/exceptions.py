"""Exceptions whose text quotes data are logged by what they are, never by what they say.

A database error can spell out the row it refused (PostgreSQL's `DETAIL: Key
(token_hash)=(...) already exists`, `invalid input syntax for type uuid: "..."`), and a
validation error carries the input it refused (a whole token response, when a response model
rejects one). Before a log line is rendered, such an exception, and every exception chained
to it, is replaced by a stand-in with the same class name and traceback whose message keeps
what identifies the failure:

- database errors: SQLSTATE (or SQLite's error name), constraint, table and column, the
  primary message only where PostgreSQL never puts values in it, and the statement with its
  placeholders (engines also have `hide_parameters=True`, app/db/session/engine.py);
- validation errors: where each error is, its message and type, never its input.

Every path that logs an exception (the 500 handlers, the error guard, uvicorn, SQLAlchemy's
pool) goes through this processor, so none of them needs to know which errors quote data.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi.exceptions import ValidationException
from pydantic_core import ValidationError

# SQLSTATE classes whose primary messages name objects (constraints, columns, relations) but
# never quote a value: connection, integrity, rollback, syntax/access, resources, operator.
# A data exception (class 22) or a PL/pgSQL RAISE (P0) may say anything, so it says nothing.
_POSTGRES_PLAIN_CLASSES = frozenset({"08", "23", "40", "42", "53", "57"})
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, sqlite3.Error)
_DATABASE_FIELDS = {
    "sqlstate": "sqlstate",
    "sqlite_errorname": "sqlite",
    "constraint_name": "constraint",
    "table_name": "table",
    "column_name": "column",
}


class ScrubbedError(Exception):
    """Base of the stand-ins: a log shows the original class name and traceback, not its text."""


_STAND_IN_CLASSES: dict[type[BaseException], type[ScrubbedError]] = {}


def _stand_in_class(original: type[BaseException]) -> type[ScrubbedError]:
    stand_in = _STAND_IN_CLASSES.get(original)
    if stand_in is None:  # one per original class: a bounded set
        stand_in = type(
            original.__name__,
            (ScrubbedError,),
            {"__module__": original.__module__, "__qualname__": original.__qualname__},
        )
        _STAND_IN_CLASSES[original] = stand_in
    return stand_in


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or during, outermost first, as tracebacks show."""
    links: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not link for link in links):
        links.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = None if current.__suppress_context__ else current.__context__
    return links


def _is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, (sqlalchemy.exc.StatementError, *_DRIVER_ERRORS))


def _is_validation_error(exc: BaseException) -> bool:
    return isinstance(exc, (ValidationError, ValidationException))


def database_error_fields(links: Iterable[BaseException]) -> dict[str, str]:
    """SQLSTATE, constraint, table, column: the first value of each found along the chain."""
    fields: dict[str, str] = {}
    for link in links:
        for attribute, name in _DATABASE_FIELDS.items():
            value = getattr(link, attribute, None)
            if isinstance(value, str) and value and name not in fields:
                fields[name] = value
    return fields


def _database_message(links: list[BaseException]) -> str:
    fields = database_error_fields(links)
    parts = [" ".join(f"{name}={value}" for name, value in fields.items()) + ":"] if fields else []
    for link in links:
        if isinstance(link, asyncpg.PostgresError):
            if fields.get("sqlstate", "")[:2] in _POSTGRES_PLAIN_CLASSES:
                parts.append(str(getattr(link, "message", "")))  # the primary message, no DETAIL
            break
        if isinstance(link, sqlite3.Error):
            # SQLite names the constraint or column ("UNIQUE constraint failed: t.c"), never a value.
            parts.append(str(link))
            break
    statement = links[0].statement if isinstance(links[0], sqlalchemy.exc.StatementError) else None
    if statement:
        parts.append(f"[SQL: {statement}]")
    return " ".join(part for part in parts if part)


def _validation_message(exc: BaseException) -> str:
    errors: list[Mapping[str, Any]]
    if isinstance(exc, ValidationError):
        errors = list(exc.errors(include_url=False, include_context=False, include_input=False))
    else:
        assert isinstance(exc, ValidationException)
        errors = [error for error in exc.errors() if isinstance(error, Mapping)]
    described = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg')} "
        f"[type={error.get('type')}]"
        for error in errors
    )
    return f"{len(errors)} validation error{'s' if len(errors) != 1 else ''}: {described}"


def scrub_exception(exc: BaseException) -> BaseException:
    """`exc` itself if nothing in its chain quotes data, else a chain of stand-ins."""
    links = _chain(exc)
    first_database = next((i for i, link in enumerate(links) if _is_database_error(link)), None)
    if first_database is None and not any(_is_validation_error(link) for link in links):
        return exc
    stand_ins: list[BaseException] = []
    for index, link in enumerate(links):
        if first_database is not None and index >= first_database:
            # Everything below a database error is the driver's account of it.
            message = _database_message(links[index:])
        elif _is_validation_error(link):
            message = _validation_message(link)
        else:
            message = str(link)
        stand_ins.append(_stand_in_class(type(link))(message).with_traceback(link.__traceback__))
    for link, stand_in, below in zip(links, stand_ins, stand_ins[1:], strict=False):
        if link.__cause__ is not None:
            stand_in.__cause__ = below
        else:
            stand_in.__context__ = below
        stand_in.__suppress_context__ = link.__suppress_context__
    return stand_ins[0]


def _exception_of(exc_info: object) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1] if len(exc_info) == 3 and isinstance(exc_info[1], BaseException) else None
    if exc_info:
        return sys.exc_info()[1]
    return None


def scrub_exception_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor, before any renderer turns `exc_info` into text."""
    exc = _exception_of(event_dict.get("exc_info"))
    if exc is None:
        return event_dict
    scrubbed = scrub_exception(exc)
    if scrubbed is not exc:
        traceback: TracebackType | None = scrubbed.__traceback__
        event_dict["exc_info"] = (type(scrubbed), scrubbed, traceback)
        links = _chain(exc)
        if any(_is_database_error(link) for link in links):
            event_dict.setdefault("db_error", database_error_fields(links))
    return event_dict
