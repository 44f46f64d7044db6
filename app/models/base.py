"""Declarative base: constraint naming convention, UUIDv7 keys, UTC timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, MetaData, Numeric, String, Uuid, func
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column
from sqlalchemy.orm import relationship as sa_relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine
from uuid_utils.compat import uuid7

# Deterministic names let migrations drop or alter constraints on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_today() -> date:
    """Today in UTC: the date `overdue` and every date rule of the API are judged against."""
    return utcnow().date()


def new_id() -> uuid.UUID:
    """Time-ordered UUIDv7: index-friendly and usable as a keyset cursor."""
    return uuid7()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no zone: we restore it on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A `Decimal` stored and read back exactly, digits and scale, on every backend.

    PostgreSQL: `NUMERIC` with no precision or scale, which keeps the value as written ("0.0125"
    stays "0.0125", "12.50" stays "12.50"); the bounds are CHECK constraints. SQLite has no
    decimal type (its NUMERIC affinity turns "0.1" into a binary float), so there the digits
    are stored as text; compare and sort such a column through `numeric_order`.
    """

    impl = Numeric(asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError("only a finite Decimal is stored in an exact decimal column")
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class numeric_order(FunctionElement[Decimal]):  # noqa: N801 - used like a SQL function
    """An `ExactDecimal` expression as something to sort and compare by.

    PostgreSQL compares NUMERIC exactly. On SQLite the stored text would sort as text ("9" after
    "10"), so there it is compared as a double: exact up to 15 significant digits, and the same
    conversion on both sides of a keyset comparison, so a page never skips or repeats a row.
    """

    type = Numeric()
    inherit_cache = True

    def __init__(self, expression: ColumnElement[Any]) -> None:
        super().__init__(expression)


@compiles(numeric_order)
def _numeric_order(element: numeric_order, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(numeric_order, "sqlite")
def _numeric_order_sqlite(element: numeric_order, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"


class exact_sum(FunctionElement[Any]):  # noqa: N801 - used like a SQL function
    """`SUM` of an `ExactDecimal` expression whose values all have the same scale (one
    currency's amounts, quantized to its minor units), exact on both backends.

    PostgreSQL sums NUMERIC exactly and returns a `Decimal`. SQLite's SUM of the stored text
    would go through doubles, so there the digits are summed as integers of minor units
    ("123.45" is 12345; an integer SUM that overflows 64 bits is an error, never a rounded
    result), and `amount_from_sum` scales the integer back with the currency's minor units.
    """

    inherit_cache = True

    def __init__(self, expression: ColumnElement[Any] | InstrumentedAttribute[Any]) -> None:
        super().__init__(expression)


@compiles(exact_sum)
def _exact_sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(exact_sum, "sqlite")
def _exact_sum_sqlite(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SUM(CAST(REPLACE({compiler.process(element.clauses, **kw)}, '.', '') AS INTEGER))"


def amount_from_sum(value: int | Decimal | None, places: int) -> Decimal:
    """An `exact_sum` result as the amount it stands for, with `places` decimals (the currency's
    minor units): an integer is SQLite's count of minor units, a `Decimal` PostgreSQL's sum."""
    quantum = Decimal((0, (1,), -places))
    if value is None:
        return quantum * 0
    if isinstance(value, int):
        return Decimal(value).scaleb(-places).quantize(quantum)
    return Decimal(value).quantize(quantum)


class year_month(FunctionElement[str]):  # noqa: N801 - used like a SQL function
    """A date column's month as text, `YYYY-MM`, on both backends."""

    type = String()
    inherit_cache = True

    def __init__(self, expression: ColumnElement[Any] | InstrumentedAttribute[Any]) -> None:
        super().__init__(expression)


@compiles(year_month)
def _year_month(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, uuid.UUID: Uuid, Decimal: ExactDecimal}


def enum_column(enum: type[StrEnum]) -> SAEnum:
    """A StrEnum stored as its value in a VARCHAR (no native enum type: cheap to extend).

    Each table states the allowed values in a named CHECK constraint.
    """
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def relationship(*args: Any, **kwargs: Any) -> Any:
    """`sqlalchemy.orm.relationship` with `lazy="raise"` unless stated.

    Relationships never load implicitly: an N+1 fails loudly in tests instead of slowly in
    production. Each query states what it loads (`selectinload`, `joinedload`).
    """
    kwargs.setdefault("lazy", "raise")
    return sa_relationship(*args, **kwargs)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
