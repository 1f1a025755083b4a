"""Every contractor spelling of the Port of Portland bid tabs, resolved.

The expected groups below were read off the data by hand (Bids.csv, the
contractor_name column, in file order), not produced by the code: a group is
one supplier's aliases, in the order its spellings first appear, and the
groups are listed in the order their first spelling appears.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tieline.model import Supplier
from tieline.store import Store
from tieline.suppliers import Resolution, SupplierReviews, not_a_supplier_reason

pytestmark = pytest.mark.shared_data

Resolve = Callable[[list[str]], list[Resolution]]
Suppliers = Callable[[], list[Supplier]]
Read = Callable[[], list[str]]

NOT_SUPPLIERS = [
    "ENGINEER'S ESTIMATE",
    *(f"NAME OF CONTRACTOR {n}" for n in range(1, 9)),
]

EXPECTED_GROUPS = [
    ("EMERY & SONS",),
    ("JAMES W FOWLER CO.",),
    ("K&E EXCAVATING INC.", "K & E EXCAVATING INC."),
    ("KERR CONTRACTORS OREGON INC.",),
    (
        "MJ HUGHES CONSTRUCTION INC.",
        "M.J HUGHES CONSTRUCTION INC.",
        "MJ HUGHES CONSTRUCTION",
    ),
    ("MOORE EXCAVATION INC.",),
    ("NUTTER CORPORATION", "NUTTER CORP."),
    ("ROTSHY INC.",),
    ("TAPANI INC.",),
    ("THOMPSON BROS EXCAVATING INC.",),
    ("WEITMAN EXCAVATION LLC", "WEITMAN EXCAVATION"),
    ("WILDISH STANDARD PAVING CO.",),
    ("GOODFELLOW BROS INC.",),
    ("KODIAK PACIFIC CONSTRUCTION", "KODIAK PACIFIC CONSTRUCTION CO."),
    ("GOODFELLA BROS INC.",),
    ("MCCLURE AND SONS INC.",),
    ("TEK CONSTRUCTION INC.",),
    ("GRANITE CONSTRUCTION COMPANY",),
    ("COLVICO INC.",),
    ("VELLUTINI CORPORATION DBA ROYAL ELECTRIC COMPANY",),
    ("INTERLAKEN INC.",),
    ("MCDONALD EXCAVATING INC.",),
    ("NTA CONTRACTING INC.",),
    ("KERR CONTRACTORS OREGON LLC",),
    ("GOODFELLOWS BROS LLC",),
    ("KERR CONTRACTORS OREGON LCC",),
    ("KIEWIT INFRASTRUCTURE WEST CO.",),
    ("MAGNUM POWER LLC",),
    ("NORTHEAST ELECTRIC LLC",),
    ("NORTHSTAR ELECTRICAL CONTRACTORS INC.",),
    ("OEG INC.",),
    ("PHK CONSTRUCTION LLC",),
    ("DIRT AND AGGREGATE INTERCHANGE INC.", "DIRT & AGGREGATE INTERCHANGE"),
    ("KNIFE RIVER CORPORATION - NORTHWEST",),
    ("LAKESIDE INDUSTRIES INC.",),
    ("FORTIS CONSTRUCTION INC.",),
    ("INLINE COMMERCIAL CONSTRUCTION INC.",),
    ("C.R CONTRACTING LLC",),
    ("HAMILTON CONSTRUCTION CO.",),
    ("STELLAR J CORPORATION",),
    ("LEE CONTRACTORS LLC",),
    ("COFFMAN EXCAVATION",),
    ("WESTERN UNITED CIVIL GROUP LLC",),
    ("AMERICAN ROAD MAINTENANCE",),
    ("SPECIALIZED PAVEMENT MARKING LLC",),
    ("BRIX PAVING NORTHWEST INC.",),
    ("PACIFIC EXCAVATION INC.",),
    ("APEX MECHANICAL LLC",),
    ("GOODFELLOW BROS LLC",),
    ("LANDIS+LANDIS CONSTRUCTION LLC",),
    ("ACME CONCRETE PAVING INC.",),
    ("PULLMAN SST INC.",),
    ("ROGER LANGELIERS CONSTRUCTION CO.",),
]

# The near pairs, in the order they are met, with the rule and score that
# put each one up: the three KERR spellings pairwise, the four GOODFELLOW
# spellings pairwise. Nothing else in the data comes near.
EXPECTED_REVIEWS = [
    ("GOODFELLA BROS INC ~ GOODFELLOW BROS INC", "similar-name", 84.2),
    (
        "KERR CONTRACTORS OREGON INC ~ KERR CONTRACTORS OREGON LLC",
        "same-name-other-legal-form",
        100.0,
    ),
    ("GOODFELLOW BROS INC ~ GOODFELLOWS BROS LLC", "similar-name", 95.2),
    ("GOODFELLA BROS INC ~ GOODFELLOWS BROS LLC", "similar-name", 80.0),
    (
        "KERR CONTRACTORS OREGON INC ~ KERR CONTRACTORS OREGON LCC",
        "same-name-misspelt-legal-form",
        100.0,
    ),
    (
        "KERR CONTRACTORS OREGON LCC ~ KERR CONTRACTORS OREGON LLC",
        "same-name-misspelt-legal-form",
        100.0,
    ),
    (
        "GOODFELLOW BROS INC ~ GOODFELLOW BROS LLC",
        "same-name-other-legal-form",
        100.0,
    ),
    ("GOODFELLOW BROS LLC ~ GOODFELLOWS BROS LLC", "similar-name", 95.2),
    ("GOODFELLA BROS INC ~ GOODFELLOW BROS LLC", "similar-name", 84.2),
]


def _contractor_names(shared_data: Path) -> list[str]:
    path = shared_data / "port-of-portland-bid-tabs" / "Bids.csv"
    with path.open(encoding="utf-8", newline="") as file:
        return [row["contractor_name"] for row in csv.DictReader(file)]


def _bidders(names: list[str]) -> list[str]:
    return [name for name in names if not_a_supplier_reason(name) is None]


def _reviews(store: Store) -> list[tuple[str, str, float | None]]:
    with store.transaction() as tx:
        items = SupplierReviews(tx).list(pending_only=False)
    return [(i.item_key, str(i.evidence["rule"]), i.score) for i in items]


def test_the_names_that_are_no_supplier_are_the_estimate_and_the_templates(
    shared_data: Path,
) -> None:
    names = _contractor_names(shared_data)

    skipped = [name for name in dict.fromkeys(names) if not_a_supplier_reason(name)]

    assert sorted(skipped) == sorted(NOT_SUPPLIERS)
    assert len(set(names)) == 69


def test_every_real_spelling_lands_in_the_expected_group(
    shared_data: Path, store: Store, resolve: Resolve, suppliers: Suppliers
) -> None:
    resolve(_bidders(_contractor_names(shared_data)))

    assert [tuple(s.aliases) for s in suppliers()] == EXPECTED_GROUPS
    assert [s.legal_name for s in suppliers()] == [g[0] for g in EXPECTED_GROUPS]
    assert _reviews(store) == EXPECTED_REVIEWS


def test_the_groups_do_not_depend_on_the_order_of_the_rows(
    shared_data: Path, resolve: Resolve, suppliers: Suppliers
) -> None:
    resolve(list(reversed(_bidders(_contractor_names(shared_data)))))

    assert {frozenset(s.aliases) for s in suppliers()} == {
        frozenset(group) for group in EXPECTED_GROUPS
    }


def test_importing_the_real_names_again_changes_nothing(
    shared_data: Path,
    store: Store,
    resolve: Resolve,
    suppliers: Suppliers,
    outbox_types: Read,
) -> None:
    # Given every bidder resolved once, row by row, as an import would
    bidders = _bidders(_contractor_names(shared_data))
    resolve(bidders)
    before = [(s.id, s.aliases, s.version) for s in suppliers()]
    events = outbox_types()

    # When the same rows are resolved again in a new transaction
    again = resolve(bidders)

    # Then nothing was created, changed or asked, and no event was written
    assert not any(r.created or r.updated or r.reviews for r in again)
    assert [(s.id, s.aliases, s.version) for s in suppliers()] == before
    assert outbox_types() == events
    assert Counter(events) == {
        "tieline.supplier.created": 53,
        "tieline.supplier.updated": 7,
        "tieline.supplier.review_requested": 9,
    }
    assert _reviews(store) == EXPECTED_REVIEWS
