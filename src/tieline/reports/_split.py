"""Pro-rata arithmetic for the cost report, exact to the currency's minor unit.

Two operations, both on amounts already rounded to their currency:

- `prorate` scales an amount by a ratio and rounds the result once, by the
  project's one rule (`tieline.money.round_money`, half-up).
- `split_pro_rata` shares an amount out over weights. Rounding each share
  half-up would not always add back to the amount (three equal thirds of 1.00
  give 0.99), so shares are allocated by the largest remainder instead: each
  share is first rounded down to the minor unit, then the units left over go
  one by one to the shares with the largest remainders, ties to the earlier
  share. The shares add up to the amount exactly, and the same input always
  gives the same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

from tieline.money import minor_unit, round_money

# Enough significant digits that a ratio of two amounts is exact wherever the
# half-up rounding could tell the difference (amounts have at most ~20 digits).
_WORKING_PRECISION = 60


def prorate(
    amount: Decimal, numerator: Decimal, denominator: Decimal, currency: str
) -> Decimal:
    """`amount * numerator / denominator`, rounded once, half-up, to `currency`."""
    if denominator == 0:
        raise ZeroDivisionError("cannot prorate over a zero denominator")
    with localcontext() as context:
        context.prec = _WORKING_PRECISION
        exact = amount * numerator / denominator
        return round_money(exact, currency)


def split_pro_rata(
    amount: Decimal, weights: Sequence[Decimal], currency: str
) -> list[Decimal]:
    """Share `amount` over `weights` pro rata; the shares add up to `amount`.

    Weights may be negative (a discount line); when they add up to zero there
    is no proportion to follow, and the whole amount goes to the first share.
    """
    if not weights:
        raise ValueError("cannot split an amount over no weights")
    digits = minor_unit(currency)
    total_units = _to_units(amount, digits)
    units = [_to_units(weight, digits) for weight in weights]
    denominator = sum(units)
    if denominator == 0:
        shares = [total_units] + [0] * (len(units) - 1)
        return [_from_units(share, digits) for share in shares]
    if denominator < 0:
        units, denominator = [-unit for unit in units], -denominator

    # Floor division keeps every remainder in [0, denominator), so the units
    # left over number fewer than the shares, whatever the signs.
    floors, remainders = zip(
        *(divmod(total_units * unit, denominator) for unit in units), strict=True
    )
    shares = list(floors)
    left_over = total_units - sum(shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-remainders[i], i))
    for index in by_remainder[:left_over]:
        shares[index] += 1
    return [_from_units(share, digits) for share in shares]


def _to_units(amount: Decimal, digits: int) -> int:
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {digits} decimals")
    return int(scaled)


def _from_units(units: int, digits: int) -> Decimal:
    return Decimal(units).scaleb(-digits)
