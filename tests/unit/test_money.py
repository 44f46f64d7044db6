"""Money: currencies and their minor units, half-up rounding, and amounts accepted as strings only."""

from __future__ import annotations

import ast
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import is_currency
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

import app.core.money
from app.api.error_handlers import validation_issues
from app.core.money import (
    MAX_INPUT_PLACES,
    AmountIn,
    AmountOut,
    CurrencyCode,
    Quantity,
    TaxRate,
    UnitPrice,
    active_currencies,
    format_amount,
    invoice_totals,
    is_active_currency,
    line_amounts,
    minor_units,
    plain_text,
    quantize,
)
from app.schemas.common import StrictInput


class Prices(StrictInput):
    amount: AmountIn
    quantity: Quantity
    unit_price: UnitPrice
    tax_rate: TaxRate


VALID = {"amount": "12.50", "quantity": "1", "unit_price": "0.0125", "tax_rate": "0.2"}
FIELDS = list(VALID)


def refusals(field: str, raw_json: str) -> list[Any]:
    """The errors for a body whose `field` is `raw_json` (JSON text) and the rest valid."""
    others = ", ".join(f'"{name}": {json.dumps(value)}' for name, value in VALID.items() if name != field)
    with pytest.raises(ValidationError) as caught:
        Prices.model_validate_json(f'{{"{field}": {raw_json}, {others}}}')
    return caught.value.errors()


@pytest.mark.parametrize(
    ("code", "digits"),
    [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3), ("GBP", 2), ("CHF", 2)],
)
def test_minor_units_come_from_babel(code: str, digits: int) -> None:
    assert is_active_currency(code)
    assert minor_units(code) == digits


# Babel knows most of these (is_currency), but none is a currency an invoice is paid in today.
REFUSED_CODES = {
    "historical": "DEM",
    "replaced by the euro": "HRK",
    "no currency": "XXX",
    "testing": "XTS",
    "precious metal": "XAU",
    "unit of account": "CLF",
    "funds code": "USN",
    "lower case": "usd",
    "not a code": "EURO",
    "empty": "",
}


@pytest.mark.parametrize("code", list(REFUSED_CODES.values()), ids=list(REFUSED_CODES))
def test_inactive_and_unknown_codes_are_refused(code: str) -> None:
    assert not is_active_currency(code)
    with pytest.raises(ValueError, match="not an active currency"):
        minor_units(code)
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(CurrencyCode).validate_json(json.dumps(code))
    assert [error["type"] for error in caught.value.errors()] == ["currency_code"]


def test_babel_alone_would_accept_historical_codes() -> None:
    # Why the activity rule exists: `is_currency` is true for every code CLDR ever had.
    assert is_currency("DEM")
    assert is_currency("CLF")


def test_every_active_currency_fits_the_input_places() -> None:
    assert len(active_currencies()) > 100
    assert all(minor_units(code) <= MAX_INPUT_PLACES for code in active_currencies())


def test_currency_codes_are_strings_only() -> None:
    assert TypeAdapter(CurrencyCode).validate_json('"EUR"') == "EUR"
    with pytest.raises(ValidationError):
        TypeAdapter(CurrencyCode).validate_json("978")


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004", "USD", "0.00"),
        ("2.5", "JPY", "3"),
        ("3.5", "JPY", "4"),
        ("0.0005", "KWD", "0.001"),
        ("0.0004", "KWD", "0.000"),
        ("-0.005", "USD", "-0.01"),  # half away from zero
        ("-0.004", "USD", "0.00"),  # never "-0.00"
        ("1E+2", "USD", "100.00"),
        ("999999999999999999.995", "EUR", "1000000000000000000.00"),
    ],
)
def test_quantize_rounds_half_up(amount: str, currency: str, rounded: str) -> None:
    result = quantize(Decimal(amount), currency)
    assert format_amount(Decimal(amount), currency) == rounded
    assert result == Decimal(rounded)
    assert result.as_tuple().exponent == -minor_units(currency)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1E+2", "100"),
        ("1.50", "1.50"),
        ("1E-7", "0.0000001"),
        ("-0", "0"),
        ("1.2E+20", "120000000000000000000"),
    ],
)
def test_serialization_never_uses_exponents(value: str, text: str) -> None:
    assert plain_text(Decimal(value)) == text
    assert TypeAdapter(AmountOut).dump_json(Decimal(value)) == f'"{text}"'.encode()


def test_format_amount_writes_the_currency_digits() -> None:
    assert format_amount(Decimal("1E+2"), "JPY") == "100"
    assert format_amount(Decimal("1E+2"), "KWD") == "100.000"
    assert format_amount(Decimal("12.5"), "EUR") == "12.50"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_amounts_have_no_text(value: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        plain_text(Decimal(value))


def test_a_line_rounds_its_total_then_its_tax() -> None:
    assert line_amounts(Decimal(3), Decimal("0.0125"), Decimal("0.2"), "USD") == (
        Decimal("0.04"),  # 0.0375
        Decimal("0.01"),  # 0.04 * 0.2 = 0.008
    )
    # The tax is on the rounded total: 0.05 * 0.1 = 0.005 -> 0.01, where 0.045 * 0.1 -> 0.00.
    assert line_amounts(Decimal(1), Decimal("0.045"), Decimal("0.1"), "USD") == (
        Decimal("0.05"),
        Decimal("0.01"),
    )
    assert line_amounts(Decimal("1.5"), Decimal("333"), Decimal("0.1"), "JPY") == (Decimal(500), Decimal(50))


class Line(BaseModel):
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


def test_invoice_totals_are_sums_of_rounded_lines() -> None:
    # Each line is 0.005 -> 0.01; rounding the unrounded sum (0.015) would give 0.02.
    lines = [Line(quantity=Decimal(1), unit_price=Decimal("0.005"), tax_rate=Decimal("0.5"))] * 3
    assert invoice_totals(lines, "USD") == (Decimal("0.03"), Decimal("0.03"), Decimal("0.06"))


def test_an_empty_invoice_totals_zero_in_the_currency_digits() -> None:
    totals = invoice_totals([], "KWD")
    assert [format_amount(part, "KWD") for part in totals] == ["0.000", "0.000", "0.000"]


# JSON text for a field's value. Each is refused by all four number types.
HOSTILE = {
    "float": "0.1",
    "integer": "1",
    "float beyond range": "1e999999",
    "huge integer": "123456789012345678901234567890",
    "boolean": "true",
    "null": "null",
    "list": '["1"]',
    "exponent": '"1e5"',
    "capital exponent": '"1E5"',
    "huge exponent": '"1e999999"',
    "nan": '"NaN"',
    "infinity": '"Infinity"',
    "negative infinity": '"-Infinity"',
    "leading plus": '"+1"',
    "leading space": '" 1"',
    "trailing space": '"1 "',
    "trailing newline": '"1\\n"',
    "arabic-indic digit": '"\u0661"',
    "fullwidth digit": '"\uff11"',
    "thousands separator": '"1,000"',
    "underscore": '"1_000"',
    "hex": '"0x10"',
    "no whole part": '".5"',
    "nothing after the point": '"5."',
    "comma as point": '"0,5"',
    "empty": '""',
    "leading zero": '"01"',
    "double minus": '"--1"',
    "two points": '"1.2.3"',
    "fraction character": '"\u00bd"',
    "five places": '"0.12345"',
}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("raw_json", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_inputs_are_refused_naming_the_field(field: str, raw_json: str) -> None:
    errors = refusals(field, raw_json)
    assert [error["loc"] for error in errors] == [(field,)]
    # Rendered as the 422 handler renders it: a message a client can act on.
    [issue] = validation_issues(RequestValidationError(errors))
    assert issue["loc"] == [field]
    assert len(issue["message"]) > 20


def test_a_json_number_gets_a_message_saying_to_send_a_string() -> None:
    [error] = refusals("amount", "0.1")
    assert error["type"] == "decimal_string"
    assert "string" in error["msg"]


@pytest.mark.parametrize(
    ("field", "raw", "error_type"),
    [
        ("quantity", "0", "greater_than"),
        ("quantity", "-1", "greater_than"),
        ("quantity", "1000000.0001", "less_than_equal"),
        ("quantity", "10000000", "less_than_equal"),
        ("unit_price", "-0.01", "greater_than_equal"),
        ("unit_price", "1000000000000.0001", "less_than_equal"),
        ("tax_rate", "1.0001", "less_than_equal"),
        ("tax_rate", "20", "less_than_equal"),
        ("tax_rate", "-0.1", "greater_than_equal"),
        ("amount", "-1000000000000.01", "greater_than_equal"),
        ("amount", "99999999999999", "less_than_equal"),
        ("amount", "1.00000", "decimal_max_places"),
    ],
)
def test_values_outside_the_bounds_are_refused(field: str, raw: str, error_type: str) -> None:
    [error] = refusals(field, json.dumps(raw))
    assert error["type"] == error_type


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("amount", "1000000000000"),
        ("amount", "-1000000000000"),
        ("amount", "999999999999.9999"),
        ("amount", "-0.0001"),
        ("quantity", "1000000"),
        ("quantity", "0.0001"),
        ("unit_price", "1000000000000.0000"),
        ("unit_price", "0"),
        ("tax_rate", "1"),
        ("tax_rate", "0.0001"),
    ],
)
def test_big_and_small_valid_values_are_kept_exactly(field: str, raw: str) -> None:
    prices = Prices.model_validate_json(json.dumps(VALID | {field: raw}))
    assert getattr(prices, field) == Decimal(raw)
    assert json.loads(prices.model_dump_json())[field] == raw


def test_negative_zero_comes_back_as_zero() -> None:
    prices = Prices.model_validate_json(json.dumps(VALID | {"amount": "-0.00"}))
    assert prices.model_dump(mode="json")["amount"] == "0.00"


def test_python_callers_may_pass_finite_decimals_within_the_bounds() -> None:
    assert TypeAdapter(Quantity).validate_python(Decimal("2.5")) == Decimal("2.5")
    assert TypeAdapter(AmountIn).validate_python("1.25") == Decimal("1.25")
    for refused in (Decimal("NaN"), Decimal("Infinity"), Decimal("1E+7"), Decimal("0.00001"), 0.5, 2):
        with pytest.raises(ValidationError):
            TypeAdapter(Quantity).validate_python(refused)


def test_a_string_the_schema_pattern_refuses_is_refused() -> None:
    # schemathesis (tests/integration/test_api_fuzz.py) expects schema-invalid input refused.
    schema = Prices.model_json_schema()["properties"]
    strings = [json.loads(raw) for raw in HOSTILE.values() if raw.startswith('"')]
    for field in FIELDS:
        pattern = schema[field]["pattern"]
        for text in [*strings, "0", "-0", "1", "0.5", "-12.3456", "1000000", "999999999999999"]:
            accepted = True
            try:
                TypeAdapter(Prices).validate_python(VALID | {field: text})
            except ValidationError:
                accepted = False
            if accepted:
                assert re.search(pattern, text), (field, text)


def test_the_module_has_no_float_and_no_web_framework() -> None:
    source = Path(app.core.money.__file__).read_text()
    assert "float(" not in source
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not {name for name in imported if name.split(".")[0] in {"fastapi", "starlette"}}
