"""Template placeholders and the engineer's estimate are not suppliers."""

from __future__ import annotations

import pytest

from tieline.suppliers import (
    is_engineers_estimate,
    is_placeholder,
    not_a_supplier_reason,
)

PLACEHOLDERS = [
    *(f"NAME OF CONTRACTOR {n}" for n in range(1, 9)),
    "Name of Bidder",
    "NAME OF FIRM NO. 2",
    "BIDDER 2",
    "Contractor No. 4",
    "Vendor #12",
    "CONTRACTOR NAME",
    "N/A",
    "TBD",
    "",
    "   ",
    "12",
]

ESTIMATES = [
    "ENGINEER'S ESTIMATE",
    "Engineers Estimate",
    "ENGINEER\u2019S ESTIMATE",
    "Engineer's Est.",
    "ENGINEER'S OPINION OF PROBABLE CONSTRUCTION COST",
]

REAL_NAMES = [
    "KERR CONTRACTORS OREGON LCC",
    "STELLAR J CORPORATION",
    "NTA CONTRACTING INC.",
    "ENGINEERING SERVICES INC.",
    "NAMEPLATE CONTRACTORS LLC",
    "CONTRACTOR SUPPLY CO 2000",
]


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_a_template_placeholder_is_not_a_supplier(name: str) -> None:
    assert is_placeholder(name)
    assert not is_engineers_estimate(name)
    assert not_a_supplier_reason(name) == (
        "a template placeholder or blank, not a supplier's name"
    )


@pytest.mark.parametrize("name", ESTIMATES)
def test_the_engineers_estimate_is_the_estimate_not_a_supplier(name: str) -> None:
    assert is_engineers_estimate(name)
    assert not is_placeholder(name)
    assert not_a_supplier_reason(name) == (
        "the engineer's estimate is the owner's estimate, not a supplier"
    )


@pytest.mark.parametrize("name", REAL_NAMES)
def test_a_real_company_name_is_neither(name: str) -> None:
    assert not is_placeholder(name)
    assert not is_engineers_estimate(name)
    assert not_a_supplier_reason(name) is None
