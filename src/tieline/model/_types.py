"""Field types the canonical models share."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from tieline.money import DecimalStr, check_currency


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _percent(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(100):
        raise ValueError("must be between 0 and 100")
    return value


CurrencyCode = Annotated[str, BeforeValidator(lambda v: check_currency(str(v)))]
Amount = DecimalStr
NonNegative = Annotated[DecimalStr, AfterValidator(_non_negative)]
Quantity = DecimalStr
Percent = Annotated[DecimalStr, AfterValidator(_percent)]
