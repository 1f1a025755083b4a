"""Exact money: `Decimal` amounts with an ISO 4217 currency.

The rounding rule, stated once for the whole project: an amount is rounded
**half-up** (0.005 -> 0.01) to its currency's minor unit, as ISO 4217 gives it
(two decimals for USD and EUR, none for JPY, three for KWD). Rounding happens
where an amount is born (a price read from a file, a line total, a retention
computed from a percentage), line by line, never on a sum of unrounded parts.
Floats never touch money: a value that arrives as a float is refused.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any

from babel.numbers import get_currency_precision, list_currencies
from pydantic import BeforeValidator, PlainSerializer

from tieline.errors import ValidationFailed

ROUNDING = ROUND_HALF_UP

# The largest magnitude tieline takes as an amount or quantity: below 10^15
# (a thousand trillion). Larger values are typing or export errors, and they
# would overflow the 28-digit decimal context once cents are added.
MAX_MAGNITUDE = Decimal(10) ** 15

# Amounts in storage and on the wire are decimal strings ("1843275.00"), never
# JSON numbers, so no reader parses them through a float.
DecimalStr = Annotated[
    Decimal,
    BeforeValidator(lambda v: to_decimal(v)),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: str) -> str:
    """Return `code` upper-cased if ISO 4217 knows it, else raise."""
    upper = code.strip().upper()
    if upper not in _known_currencies():
        raise ValidationFailed(f"unknown ISO 4217 currency {code!r}", field="currency")
    return upper


@lru_cache(maxsize=256)
def minor_unit(currency: str) -> int:
    """Number of decimals of `currency`'s minor unit (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(check_currency(currency)))


@lru_cache(maxsize=256)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def to_decimal(value: Any) -> Decimal:
    """Read a decimal from a string, int or Decimal; refuse floats and junk."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool | float):
        raise ValidationFailed(f"{value!r} is a float or bool, not an exact decimal")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as err:
            raise ValidationFailed(f"{value!r} is not a decimal number") from err
    else:
        raise ValidationFailed(f"{value!r} is not a decimal number")
    if not result.is_finite():
        raise ValidationFailed(f"{value!r} is not a finite number")
    if abs(result) >= MAX_MAGNITUDE:
        raise ValidationFailed(
            f"{value!r} is too large (at most 15 digits before the point)"
        )
    return result


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round `amount` half-up to `currency`'s minor unit: the project's one rule."""
    try:
        return amount.quantize(_quantum(currency), rounding=ROUNDING)
    except InvalidOperation as err:
        raise ValidationFailed(f"{amount} is too large to be an amount") from err


def format_money(amount: Decimal, currency: str) -> str:
    """The decimal string of `amount` with exactly the currency's decimals."""
    return str(round_money(amount, currency))
