"""The resolver turns spellings into canonical suppliers, once, with their events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tieline.errors import ValidationFailed
from tieline.model import Origin, Supplier, SupplierStatus, record_id
from tieline.store import Store
from tieline.suppliers import (
    MatchRule,
    NotASupplier,
    Resolution,
    SupplierResolver,
    SupplierReviews,
)

SYSTEM = "bid-tabs"

# Every spelling pair of the issue, in an order that makes each rule fire.
SPELLINGS = [
    "K&E EXCAVATING INC.",
    "K & E EXCAVATING INC.",
    "NUTTER CORPORATION",
    "NUTTER CORP.",
    "MJ HUGHES CONSTRUCTION INC.",
    "M.J HUGHES CONSTRUCTION INC.",
    "MJ HUGHES CONSTRUCTION",
    "KERR CONTRACTORS OREGON INC.",
    "KERR CONTRACTORS OREGON LLC",
    "KERR CONTRACTORS OREGON LCC",
    "GOODFELLOW BROS INC.",
    "GOODFELLA BROS INC.",
    "WEITMAN EXCAVATION LLC",
    "WEITMAN EXCAVATION",
]

Resolve = Callable[[list[str]], list[Resolution]]
Suppliers = Callable[[], list[Supplier]]
Read = Callable[[], list[str]]


def test_a_new_name_becomes_one_supplier_with_one_event(
    resolve: Resolve, suppliers: Suppliers, outbox_types: Read
) -> None:
    (resolution,) = resolve(["K&E EXCAVATING INC."])

    supplier = resolution.supplier
    assert (resolution.created, resolution.updated, resolution.rule) == (
        True,
        False,
        None,
    )
    assert supplier.origin == Origin(system=SYSTEM, key="K & E EXCAVATING INC")
    assert supplier.id == record_id("supplier", SYSTEM, "K & E EXCAVATING INC")
    assert supplier.legal_name == "K&E EXCAVATING INC."
    assert supplier.aliases == ["K&E EXCAVATING INC."]
    assert supplier.status is SupplierStatus.ACTIVE
    assert [s.id for s in suppliers()] == [supplier.id]
    assert outbox_types() == ["tieline.supplier.created"]


def test_a_certain_new_spelling_is_kept_as_an_alias(
    resolve: Resolve, suppliers: Suppliers, outbox_types: Read
) -> None:
    first, second = resolve(["K&E EXCAVATING INC.", "K & E EXCAVATING INC."])

    assert second.supplier.id == first.supplier.id
    assert (second.created, second.updated, second.rule) == (
        False,
        True,
        MatchRule.SAME_NAME,
    )
    (stored,) = suppliers()
    assert stored.aliases == ["K&E EXCAVATING INC.", "K & E EXCAVATING INC."]
    assert stored.legal_name == "K&E EXCAVATING INC."
    assert outbox_types() == ["tieline.supplier.created", "tieline.supplier.updated"]


def test_a_name_without_legal_form_joins_the_one_with_it(
    resolve: Resolve, suppliers: Suppliers
) -> None:
    first, second = resolve(["WEITMAN EXCAVATION LLC", "WEITMAN EXCAVATION"])

    assert second.supplier.id == first.supplier.id
    assert second.rule is MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM
    assert [s.aliases for s in suppliers()] == [
        ["WEITMAN EXCAVATION LLC", "WEITMAN EXCAVATION"]
    ]


def test_a_near_spelling_gets_its_own_supplier_and_a_review_item(
    store: Store, resolve: Resolve, suppliers: Suppliers, outbox_types: Read
) -> None:
    inc, llc = resolve(["KERR CONTRACTORS OREGON INC.", "KERR CONTRACTORS OREGON LLC"])

    assert llc.created
    assert llc.supplier.id != inc.supplier.id
    (item,) = llc.reviews
    assert item.item_key == "KERR CONTRACTORS OREGON INC ~ KERR CONTRACTORS OREGON LLC"
    assert item.score == 100.0
    assert item.subject == f"supplier/{llc.supplier.id}"
    assert item.decision is None
    assert item.evidence == {
        "rule": "same-name-other-legal-form",
        "score": 100.0,
        "near_score": 70.0,
        "existing": {
            "supplier_id": inc.supplier.id,
            "name": "KERR CONTRACTORS OREGON INC.",
            "normalised": "KERR CONTRACTORS OREGON INC",
            "core": "KERR CONTRACTORS OREGON",
            "legal_form": "INC",
            "misspelt_legal_form": None,
            "tax_id": None,
        },
        "new": {
            "supplier_id": llc.supplier.id,
            "name": "KERR CONTRACTORS OREGON LLC",
            "normalised": "KERR CONTRACTORS OREGON LLC",
            "core": "KERR CONTRACTORS OREGON",
            "legal_form": "LLC",
            "misspelt_legal_form": None,
            "tax_id": None,
        },
    }
    assert [s.aliases for s in suppliers()] == [
        ["KERR CONTRACTORS OREGON INC."],
        ["KERR CONTRACTORS OREGON LLC"],
    ]
    assert outbox_types() == [
        "tieline.supplier.created",
        "tieline.supplier.created",
        "tieline.supplier.review_requested",
    ]
    with store.transaction() as tx:
        assert SupplierReviews(tx).list() == [item]


def test_a_near_spelling_is_asked_about_every_supplier_it_is_near(
    resolve: Resolve, review_keys: Read
) -> None:
    *_, lcc = resolve(
        [
            "KERR CONTRACTORS OREGON INC.",
            "KERR CONTRACTORS OREGON LLC",
            "KERR CONTRACTORS OREGON LCC",
        ]
    )

    assert [
        (i.evidence["rule"], i.evidence["existing"]["name"]) for i in lcc.reviews
    ] == [
        ("same-name-misspelt-legal-form", "KERR CONTRACTORS OREGON INC."),
        ("same-name-misspelt-legal-form", "KERR CONTRACTORS OREGON LLC"),
    ]
    assert review_keys() == [
        "KERR CONTRACTORS OREGON INC ~ KERR CONTRACTORS OREGON LLC",
        "KERR CONTRACTORS OREGON INC ~ KERR CONTRACTORS OREGON LCC",
        "KERR CONTRACTORS OREGON LCC ~ KERR CONTRACTORS OREGON LLC",
    ]


def test_a_name_without_form_that_fits_two_suppliers_kept_apart_is_near(
    resolve: Resolve, suppliers: Suppliers
) -> None:
    inc, llc, bare = resolve(
        ["GOODFELLOW BROS INC.", "GOODFELLOW BROS LLC", "GOODFELLOW BROS"]
    )

    assert bare.created
    assert [i.evidence["rule"] for i in bare.reviews] == [
        "same-name-several-suppliers",
        "same-name-several-suppliers",
    ]
    assert {i.evidence["existing"]["supplier_id"] for i in bare.reviews} == {
        inc.supplier.id,
        llc.supplier.id,
    }
    assert len(suppliers()) == 3


def test_a_tax_id_in_any_form_finds_the_same_supplier(store: Store) -> None:
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
        first = resolver.resolve("Harbour Civil Ltd", tax_id="GB 123 4567")
        second = resolver.resolve(
            "HCE Civil Engineering", tax_id="1234567", country="GB"
        )

    assert first.supplier.tax_id == "GB1234567"
    assert second.supplier.id == first.supplier.id
    assert second.rule is MatchRule.SAME_TAX_ID
    assert second.supplier.aliases == ["Harbour Civil Ltd", "HCE Civil Engineering"]


def test_a_supplier_saved_without_aliases_is_found_by_legal_name_and_tax_id(
    store: Store,
) -> None:
    # Given a supplier saved by other code, with a legal name only and a tax
    # id as written
    with store.transaction() as tx:
        saved = tx.save(
            Supplier(
                origin=Origin(system="erp", key="S-1"),
                legal_name="Harbour Civil Ltd",
                tax_id="GB 123 4567",
            ),
            actor="test",
        ).record

    # When the resolver meets it under its name and under its tax id
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
        by_name = resolver.resolve("HARBOUR CIVIL LIMITED")
        by_tax_id = resolver.resolve("HCE", tax_id="1234567", country="GB")

    # Then both find it
    assert by_name.supplier.id == saved.id
    assert by_name.rule is MatchRule.SAME_NAME
    assert by_tax_id.supplier.id == saved.id
    assert by_tax_id.rule is MatchRule.SAME_TAX_ID
    assert by_tax_id.supplier.aliases == ["HARBOUR CIVIL LIMITED", "HCE"]


def test_a_tax_id_is_added_to_the_supplier_found_by_name(store: Store) -> None:
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
        resolver.resolve("NUTTER CORPORATION")
        found = resolver.resolve("NUTTER CORP.", tax_id="93-1234567", country="US")

    assert found.updated
    assert found.supplier.tax_id == "US931234567"
    assert found.supplier.aliases == ["NUTTER CORPORATION", "NUTTER CORP."]


def test_one_name_under_another_tax_id_is_kept_apart_and_asked_about(
    store: Store, suppliers: Suppliers
) -> None:
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
        first = resolver.resolve("Harbour Civil Ltd", tax_id="GB1234567")
        other = resolver.resolve("HARBOUR CIVIL LIMITED", tax_id="GB7654321")
        untaxed = resolver.resolve("Harbour Civil Ltd")

    assert other.supplier.id != first.supplier.id
    assert other.supplier.origin.key == "HARBOUR CIVIL LTD #2"
    (item,) = other.reviews
    assert item.evidence["rule"] == "same-name-other-tax-id"
    assert item.item_key == (
        "HARBOUR CIVIL LTD [GB1234567] ~ HARBOUR CIVIL LTD [GB7654321]"
    )
    # Without a tax id the name fits both; the first one made is taken.
    assert untaxed.supplier.id == first.supplier.id
    assert [s.tax_id for s in suppliers()] == ["GB1234567", "GB7654321"]


@pytest.mark.parametrize("name", ["NAME OF CONTRACTOR 3", "ENGINEER'S ESTIMATE", "  "])
def test_a_name_that_is_no_supplier_is_refused_and_nothing_is_stored(
    store: Store, name: str, suppliers: Suppliers, outbox_types: Read
) -> None:
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
        with pytest.raises(NotASupplier) as caught:
            resolver.resolve(name)

    assert caught.value.field == "name"
    assert caught.value.record == name
    assert suppliers() == []
    assert outbox_types() == []


def test_a_bad_tax_id_names_the_supplier_and_the_field(store: Store) -> None:
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
        with pytest.raises(ValidationFailed, match="prefix DE") as caught:
            resolver.resolve("Harbour Civil Ltd", tax_id="DE123456789", country="GB")

    assert (caught.value.record, caught.value.field) == ("Harbour Civil Ltd", "tax_id")


def test_a_second_run_over_the_same_names_changes_nothing(
    resolve: Resolve, suppliers: Suppliers, outbox_types: Read, review_keys: Read
) -> None:
    # Given every spelling pair resolved once
    resolve(SPELLINGS)
    events, keys = outbox_types(), review_keys()
    before = [(s.id, s.aliases, s.version) for s in suppliers()]

    # When the same names are resolved again, forwards and backwards
    again = resolve(SPELLINGS) + resolve(list(reversed(SPELLINGS)))

    # Then no record, event or review item was added or changed
    assert not any(r.created or r.updated or r.reviews for r in again)
    assert [(s.id, s.aliases, s.version) for s in suppliers()] == before
    assert outbox_types() == events
    assert review_keys() == keys
    # 9 suppliers (K&E, NUTTER, MJ HUGHES, the 3 KERRs, GOODFELLOW, GOODFELLA,
    # WEITMAN), 5 new aliases (K & E, NUTTER CORP., M.J and bare MJ HUGHES,
    # bare WEITMAN) and 4 review items (the 3 KERR pairs, GOODFELLA ~ GOODFELLOW)
    assert Counter(events) == {
        "tieline.supplier.created": 9,
        "tieline.supplier.updated": 5,
        "tieline.supplier.review_requested": 4,
    }


def test_the_same_names_in_the_same_order_give_the_same_ids_on_a_fresh_store(
    resolve: Resolve, suppliers: Suppliers, review_keys: Read, tmp_path: Path
) -> None:
    resolve(SPELLINGS)
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.migrate()
    try:
        with fresh.transaction() as tx:
            resolver = SupplierResolver(tx, system=SYSTEM, actor="test")
            for name in SPELLINGS:
                resolver.resolve(name)
            again = [(s.id, s.aliases) for s in tx.list(Supplier)]
            keys = sorted(SupplierReviews(tx).keys())
    finally:
        fresh.close()

    assert again == [(s.id, s.aliases) for s in suppliers()]
    assert keys == sorted(review_keys())
