"""Money is exact: one rounding rule, ISO 4217 minor units, no floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tieline.errors import ValidationFailed
from tieline.money import (
    check_currency,
    format_money,
    minor_unit,
    round_money,
    to_decimal,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004", "USD", "0.00"),
        ("-0.005", "EUR", "-0.01"),
        ("2.5", "JPY", "3"),
        ("1.0005", "KWD", "1.001"),
        ("1843275", "USD", "1843275.00"),
    ],
)
def test_amounts_round_half_up_to_the_currency_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    assert format_money(Decimal(amount), currency) == expected


def test_minor_units_come_from_iso_4217() -> None:
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("KWD")) == (2, 0, 3)


def test_an_unknown_currency_is_refused_by_name() -> None:
    with pytest.raises(ValidationFailed, match="XYZ"):
        check_currency("XYZ")


@pytest.mark.parametrize("value", [0.1, True, "1,5", "abc", "NaN", "Infinity", None])
def test_floats_and_junk_are_not_money(value: object) -> None:
    with pytest.raises(ValidationFailed):
        to_decimal(value)


@given(
    st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=6,
        max_value=10**12,
        min_value=-(10**12),
    )
)
def test_rounding_is_idempotent_and_within_half_a_cent(amount: Decimal) -> None:
    rounded = round_money(amount, "USD")

    assert round_money(rounded, "USD") == rounded
    assert abs(rounded - amount) <= Decimal("0.005")


def test_an_absurdly_large_amount_is_refused_not_overflowed() -> None:
    with pytest.raises(ValidationFailed, match="too large"):
        to_decimal("99999999999999999999999999999999.0")
    with pytest.raises(ValidationFailed, match="too large"):
        round_money(Decimal("9" * 30), "USD")
