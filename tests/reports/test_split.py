"""Pro-rata shares add up exactly, and the left-over cents land predictably."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tieline.reports._split import prorate, split_pro_rata

D = Decimal


def test_three_equal_weights_share_a_dollar_with_the_cent_to_the_first() -> None:
    # Half-up on each third would give 0.33 three times, a cent short.
    assert split_pro_rata(D("1.00"), [D("5.00")] * 3, "USD") == [
        D("0.34"),
        D("0.33"),
        D("0.33"),
    ]


def test_left_over_cents_go_to_the_largest_remainders() -> None:
    # 10.00 over 1 : 2 : 3 -> 1.6666, 3.3333, 5.0000: floors 1.66, 3.33, 5.00
    # leave a cent, which goes to the first (remainder .66 of a cent).
    assert split_pro_rata(D("10.00"), [D("1"), D("2"), D("3")], "USD") == [
        D("1.67"),
        D("3.33"),
        D("5.00"),
    ]


def test_a_negative_weight_and_a_zero_sum_are_handled() -> None:
    assert split_pro_rata(D("9.00"), [D("10.00"), D("-1.00")], "USD") == [
        D("10.00"),
        D("-1.00"),
    ]
    assert split_pro_rata(D("5.00"), [D("1.00"), D("-1.00")], "USD") == [
        D("5.00"),
        D("0.00"),
    ]


def test_currencies_without_minor_units_split_in_whole_units() -> None:
    assert split_pro_rata(D("100"), [D("1"), D("1"), D("1")], "JPY") == [
        D("34"),
        D("33"),
        D("33"),
    ]


def test_unrounded_amounts_and_no_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="decimals"):
        split_pro_rata(D("1.005"), [D("1")], "USD")
    with pytest.raises(ValueError, match="no weights"):
        split_pro_rata(D("1.00"), [], "USD")


def test_prorate_rounds_once_half_up() -> None:
    # 1.00 * 1 / 8 = 0.125 -> 0.13 (half-up; half-even would give 0.12).
    assert prorate(D("1.00"), D("1"), D("8"), "USD") == D("0.13")
    assert prorate(D("20000.00"), D("36500.05"), D("43800.06"), "USD") == D("16666.67")
    with pytest.raises(ZeroDivisionError):
        prorate(D("1.00"), D("1"), D("0"), "USD")


cents = st.integers(min_value=-(10**11), max_value=10**11).map(
    lambda n: D(n).scaleb(-2)
)


@given(amount=cents, weights=st.lists(cents, min_size=1, max_size=12))
def test_shares_always_add_up_to_the_amount(
    amount: Decimal, weights: list[Decimal]
) -> None:
    shares = split_pro_rata(amount, weights, "USD")

    assert sum(shares, D(0)) == amount
    assert len(shares) == len(weights)
    assert all(share == share.quantize(D("0.01")) for share in shares)


@given(
    amount=cents,
    weights=st.lists(
        st.integers(min_value=1, max_value=10**9).map(lambda n: D(n).scaleb(-2)),
        min_size=1,
        max_size=12,
    ),
)
def test_each_share_is_within_a_cent_of_its_exact_part(
    amount: Decimal, weights: list[Decimal]
) -> None:
    total = sum(weights, D(0))
    shares = split_pro_rata(amount, weights, "USD")

    for share, weight in zip(shares, weights, strict=True):
        exact = amount * weight / total
        assert abs(share - exact) < D("0.01")
