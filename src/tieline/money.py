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
from pydantic import BeforeValidator, PlainSerializer, ValidationInfo
from pydantic_core import PydanticCustomError

from tieline.errors import ValidationFailed

ROUNDING = ROUND_HALF_UP

# The largest magnitude tieline takes as an amount or quantity: below 10^15
# (a thousand trillion). Larger values are typing or export errors, and they
# would overflow the 28-digit decimal context once cents are added.
MAX_MAGNITUDE = Decimal(10) ** 15

# The validation context key that makes a bad amount a pydantic error, which
# carries the field's location (`lines[0].quantity`), rather than the
# ValidationFailed that every other caller of the models expects.
LOCATED = "tieline.money.located"


def _decimal_field(value: Any, info: ValidationInfo) -> Decimal:
    try:
        return to_decimal(value)
    except ValidationFailed as err:
        if isinstance(info.context, dict) and info.context.get(LOCATED):
            raise PydanticCustomError(
                "decimal", "{reason}", {"reason": err.reason}
            ) from err
        raise


# Amounts in storage and on the wire are decimal strings ("1843275.00"), never
# JSON numbers, so no reader parses them through a float.
DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_decimal_field),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]

# ISO 4217 codes that are no money anyone pays in: no currency (XXX),
# testing (XTS), precious metals, special drawing rights and units of
# account. The X codes that are currencies (XAF, XCD, XCG, XOF, XPF) stay.
NOT_MONEY = frozenset(
    {
        "XAD",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XDR",
        "XEU",
        "XFO",
        "XFU",
        "XPD",
        "XPT",
        "XRE",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
    }
)


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies()) - NOT_MONEY


def check_currency(code: str) -> str:
    """Return `code` upper-cased if ISO 4217 knows it as a currency, else raise."""
    upper = code.strip().upper()
    if upper in NOT_MONEY:
        raise ValidationFailed(
            f"{code!r} is an ISO 4217 code but no currency (a metal, a unit of "
            "account, a test code or none)",
            field="currency",
        )
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
