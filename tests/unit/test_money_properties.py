"""Money, for any valid input: totals add up, amounts round-trip through text, rounding is stable."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.core.money import (
    Quantity,
    TaxRate,
    UnitPrice,
    active_currencies,
    format_amount,
    invoice_totals,
    line_amounts,
    minor_units,
    quantize,
)

FAST = settings(max_examples=200, deadline=None)

currencies = st.sampled_from(sorted(active_currencies()))
# The input types' whole ranges, at their 4 decimal places.
quantities = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4)
unit_prices = st.decimals(min_value=Decimal(0), max_value=Decimal(10**12), places=4)
tax_rates = st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=4)
# Any finite amount an invoice may hold, with any exponent (1E+2, 0.000001...).
amounts = st.decimals(
    min_value=Decimal(-(10**18)), max_value=Decimal(10**18), allow_nan=False, allow_infinity=False
)


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


lines = st.builds(Line, quantities, unit_prices, tax_rates)


def half_up_oracle(value: Fraction, places: int) -> Decimal:
    """Rounding half away from zero in integer arithmetic, independent of the decimal module."""
    scaled = abs(value) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    return Decimal(units if value >= 0 else -units).scaleb(-places)


@FAST
@given(line=lines)
def test_generated_lines_are_valid_input(line: Line) -> None:
    assert TypeAdapter(Quantity).validate_python(line.quantity) == line.quantity
    assert TypeAdapter(UnitPrice).validate_python(line.unit_price) == line.unit_price
    assert TypeAdapter(TaxRate).validate_python(line.tax_rate) == line.tax_rate


@FAST
@given(invoice=st.lists(lines, max_size=20), currency=currencies)
def test_invoice_totals_are_the_sums_of_the_rounded_lines(invoice: list[Line], currency: str) -> None:
    rounded = [line_amounts(line.quantity, line.unit_price, line.tax_rate, currency) for line in invoice]
    subtotal, tax_total, total = invoice_totals(invoice, currency)
    # Fractions: exact, whatever the thread's decimal context.
    assert Fraction(subtotal) == sum(Fraction(amounts.line_total) for amounts in rounded)
    assert Fraction(tax_total) == sum(Fraction(amounts.tax_amount) for amounts in rounded)
    assert Fraction(total) == Fraction(subtotal) + Fraction(tax_total)
    assert {part.as_tuple().exponent for part in (subtotal, tax_total, total)} == {-minor_units(currency)}


@FAST
@given(amount=amounts, currency=currencies)
def test_a_quantized_amount_round_trips_through_its_text(amount: Decimal, currency: str) -> None:
    quantized = quantize(amount, currency)
    text = format_amount(quantized, currency)
    assert Decimal(text) == quantized
    assert "E" not in text.upper()
    assert len(text.partition(".")[2]) == minor_units(currency)


@FAST
@given(amount=amounts, currency=currencies)
def test_quantize_is_idempotent(amount: Decimal, currency: str) -> None:
    once = quantize(amount, currency)
    twice = quantize(once, currency)
    assert twice.as_tuple() == once.as_tuple()


@FAST
@given(amount=amounts, currency=currencies)
def test_quantize_rounds_half_up(amount: Decimal, currency: str) -> None:
    assert quantize(amount, currency) == half_up_oracle(Fraction(amount), minor_units(currency))


@FAST
@given(line=lines, currency=currencies)
def test_line_amounts_have_exactly_the_currency_digits(line: Line, currency: str) -> None:
    line_total, tax_amount = line_amounts(line.quantity, line.unit_price, line.tax_rate, currency)
    places = minor_units(currency)
    assert line_total.as_tuple().exponent == -places
    assert tax_amount.as_tuple().exponent == -places
    exact_total = Fraction(line.quantity) * Fraction(line.unit_price)
    assert line_total == half_up_oracle(exact_total, places)
    assert tax_amount == half_up_oracle(Fraction(line_total) * Fraction(line.tax_rate), places)
