"""Money: exact decimal amounts, and each currency's minor units, from babel's CLDR data.

The rules:

- Amounts, quantities, prices and rates arrive as JSON *strings* ("1234.50"), and only as
  strings. A JSON number is refused, integers too: the parser may already have made 0.1 a
  binary float, and one rule is easier to follow than "numbers, except when". The text is
  plain ASCII digits, an optional "-" where negatives make sense, no leading zeros, at most one
  point and 4 digits after it: no exponent, "+", spaces, separators, NaN or Infinity. Python
  callers may pass a finite `Decimal`, held to the same bounds. Values leave as strings too,
  never in exponent notation.
- Currencies are the ones babel (CLDR's currency data) lists as legal tender in some territory
  with no end date: EUR, USD, JPY, KWD... Historical codes (DEM, HRK, a code with an announced
  end), funds codes and units of account (CLF, UYW, USN), precious metals, and the ISO codes
  for "no currency" and for testing are refused: an invoice is payable, so its currency is
  money that people pay in today. The set is babel's, so upgrading babel is a data change (a
  currency replaced): read its notes.
- Minor units are CLDR's (babel's `get_currency_precision`): JPY 0, USD 2, KWD 3. For a few
  currencies (HUF, IDR, COP...) CLDR says 0 where ISO 4217 says 2: CLDR follows how they are
  actually written. Never a table of our own.
- A line's total is quantity * unit price rounded half-up (half away from zero) to the
  currency's minor units; its tax is that rounded total * the rate, rounded the same way; an
  invoice's totals are the sums of the rounded lines, so its lines always add up to it.
- No float anywhere. Arithmetic uses the contexts below, never the thread's decimal context,
  and the exact one traps inexact results: a product or sum is exact or it is an error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Annotated, Any, NamedTuple, Protocol

from babel.core import get_global
from babel.numbers import get_currency_precision, list_currencies
from pydantic import (
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

# 50 digits hold any product of our bounds (10^6 * 10^12 with 8 decimals) and sums of them.
_EXACT = Context(prec=50, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_HALF_UP = Context(prec=50, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])

# The most digits after the point any input may have: more than any active currency's minor
# units (3), as unit prices finer than the currency's are common (0.0125 USD).
MAX_INPUT_PLACES = 4


@functools.cache
def active_currencies() -> frozenset[str]:
    """The codes `is_active_currency` accepts (about 150 with babel 2.19)."""
    # CLDR's territory data: per territory, (code, from, to, is legal tender) for every currency
    # it has had. `list_currencies` alone also lists every historical code.
    named = list_currencies()
    return frozenset(
        code
        for history in get_global("territory_currencies").values()
        for code, _since, until, tender in history
        if until is None and tender and code in named
    )


def is_active_currency(code: str) -> bool:
    """Whether `code` (exactly, in capitals) is a currency an invoice may be written in."""
    # A set lookup: no per-code cache, so codes sent by clients cannot grow one.
    return code in active_currencies()


@functools.cache  # raises for anything else, so it holds active codes only
def minor_units(code: str) -> int:
    """Digits after the point for the currency (JPY 0, USD 2, KWD 3); ValueError if not active."""
    if not is_active_currency(code):
        raise ValueError(f"{code!r} is not an active currency code")
    return get_currency_precision(code)


def _quantum(currency: str) -> Decimal:
    return Decimal((0, (1,), -minor_units(currency)))


def _without_negative_zero(value: Decimal) -> Decimal:
    return value.copy_abs() if value.is_zero() else value


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor units (0.005 USD is 0.01)."""
    return _without_negative_zero(amount.quantize(_quantum(currency), context=_HALF_UP))


def plain_text(value: Decimal) -> str:
    """The digits as written, never in exponent notation: Decimal("1E+2") is "100"."""
    if not value.is_finite():
        raise ValueError("only a finite amount has a text form")
    return format(_without_negative_zero(value), "f")


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount as the API writes it: rounded to the currency's minor units, "12.50"."""
    return plain_text(quantize(amount, currency))


class PricedLine(Protocol):
    """What `invoice_totals` reads from a line: a request's line, or a stored one."""

    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def tax_rate(self) -> Decimal: ...


class LineAmounts(NamedTuple):
    line_total: Decimal
    tax_amount: Decimal


class InvoiceTotals(NamedTuple):
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal


def line_amounts(quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, currency: str) -> LineAmounts:
    """The line's total and its tax, each rounded half-up to the currency's minor units."""
    line_total = quantize(_EXACT.multiply(quantity, unit_price), currency)
    return LineAmounts(line_total, quantize(_EXACT.multiply(line_total, tax_rate), currency))


def invoice_totals(lines: Iterable[PricedLine], currency: str) -> InvoiceTotals:
    """Subtotal, tax and total: sums of the rounded lines (an empty invoice is all zeros)."""
    subtotal = tax_total = quantize(Decimal(0), currency)
    for line in lines:
        amounts = line_amounts(line.quantity, line.unit_price, line.tax_rate, currency)
        subtotal = _EXACT.add(subtotal, amounts.line_total)
        tax_total = _EXACT.add(tax_total, amounts.tax_amount)
    return InvoiceTotals(subtotal, tax_total, _EXACT.add(subtotal, tax_total))


# What any number input looks like before its own limits are checked, to say what is wrong.
_NUMBER_SHAPE = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]+)(?:\.(?P<places>[0-9]+))?")


@dataclass(frozen=True, slots=True)
class DecimalText:
    """`Annotated[Decimal, DecimalText(...)]`: a number sent as a string, converted exactly.

    The JSON schema states the shape as a pattern (digits before and after the point) and the
    bounds in words; whatever the pattern refuses, the validator refuses too.
    """

    minimum: Decimal
    maximum: Decimal
    minimum_excluded: bool = False
    max_places: int = MAX_INPUT_PLACES

    @property
    def pattern(self) -> str:
        sign = "-?" if self.minimum < 0 else ""
        whole_digits = len(str(int(max(self.minimum.copy_abs(), self.maximum))))
        return rf"{sign}(?:0|[1-9][0-9]{{0,{whole_digits - 1}}})(?:\.[0-9]{{1,{self.max_places}}})?"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(plain_text, when_used="json"),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        lower = "more than" if self.minimum_excluded else "at least"
        bounds = f"{lower} {plain_text(self.minimum)}, at most {plain_text(self.maximum)}"
        if handler.mode == "serialization":
            return {"type": "string", "description": f"A decimal number, {bounds}."}
        return {
            "type": "string",
            "pattern": f"^{self.pattern}$",
            "description": f"A decimal number written as a string (never a JSON number), {bounds}.",
        }

    def _validate(self, value: object) -> Decimal:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise PydanticKnownError("finite_number")
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and -exponent > self.max_places:
                raise PydanticKnownError("decimal_max_places", {"decimal_places": self.max_places})
            return self._within_bounds(_without_negative_zero(value))
        if not isinstance(value, str):
            raise PydanticCustomError(
                "decimal_string",
                'must be a decimal number written as a string, such as "12.50": a JSON number is '
                "refused, as it may already have lost its exact value",
            )
        if re.fullmatch(self.pattern, value) is None:
            raise self._why_refused(value)
        return self._within_bounds(_without_negative_zero(Decimal(value)))

    def _why_refused(self, text: str) -> Exception:
        shape = _NUMBER_SHAPE.fullmatch(text)
        if shape is None or (len(shape["whole"]) > 1 and shape["whole"].startswith("0")):
            return PydanticCustomError(
                "decimal_format",
                'must be a plain decimal number such as "1234.50": ASCII digits, no leading zeros, '
                'an optional decimal point, no exponent, "+", spaces or digit separators',
            )
        if shape["places"] and len(shape["places"]) > self.max_places:
            return PydanticKnownError("decimal_max_places", {"decimal_places": self.max_places})
        # The rest are too many digits before the point, or a sign where none is allowed.
        return self._bound_error(below=bool(shape["sign"]))

    def _bound_error(self, *, below: bool) -> PydanticKnownError:
        if not below:
            return PydanticKnownError("less_than_equal", {"le": plain_text(self.maximum)})
        if self.minimum_excluded:
            return PydanticKnownError("greater_than", {"gt": plain_text(self.minimum)})
        return PydanticKnownError("greater_than_equal", {"ge": plain_text(self.minimum)})

    def _within_bounds(self, value: Decimal) -> Decimal:
        too_low = value <= self.minimum if self.minimum_excluded else value < self.minimum
        if too_low or value > self.maximum:
            raise self._bound_error(below=too_low)
        return value


_TRILLION = Decimal(10**12)

# An amount of money from a client: payments, adjustments (negative: credits).
AmountIn = Annotated[Decimal, DecimalText(minimum=-_TRILLION, maximum=_TRILLION)]
Quantity = Annotated[Decimal, DecimalText(minimum=Decimal(0), maximum=Decimal(10**6), minimum_excluded=True)]
# Up to 4 decimals whatever the currency: prices finer than its minor units are common.
UnitPrice = Annotated[Decimal, DecimalText(minimum=Decimal(0), maximum=_TRILLION)]
# A fraction, not a percentage: 0.2 is 20 %.
TaxRate = Annotated[Decimal, DecimalText(minimum=Decimal(0), maximum=Decimal(1))]
# A response field: the number as a string, as stored (use `format_amount` to round it).
AmountOut = Annotated[Decimal, PlainSerializer(plain_text, return_type=str, when_used="json")]


def _currency_code(value: object) -> str:
    if not isinstance(value, str) or not is_active_currency(value):
        raise PydanticCustomError(
            "currency_code", 'must be the ISO 4217 code of a currency in use, in capitals, such as "EUR"'
        )
    return value


CurrencyCode = Annotated[
    str,
    PlainValidator(_currency_code, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]}),
]
