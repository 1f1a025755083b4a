"""A person's answer on a near match is remembered: "same" merges, "different"
keeps the pair apart and it is never asked again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tieline.errors import RecordNotFound, ValidationFailed
from tieline.model import Supplier, SupplierStatus
from tieline.store import Store
from tieline.suppliers import (
    Decision,
    MatchRule,
    Resolution,
    ReviewAlreadyDecided,
    ReviewItem,
    SupplierResolver,
    SupplierReviews,
)

Resolve = Callable[[list[str]], list[Resolution]]
Suppliers = Callable[[], list[Supplier]]
Read = Callable[[], list[str]]

KERR = ["KERR CONTRACTORS OREGON INC.", "KERR CONTRACTORS OREGON LLC"]


def _decide(
    store: Store,
    item: ReviewItem | int,
    decision: str,
    note: str | None = None,
    by: str = "Ann",
) -> ReviewItem:
    with store.transaction() as tx:
        return SupplierReviews(tx).decide(item, decision=decision, by=by, note=note)


def _pending(store: Store) -> list[ReviewItem]:
    with store.transaction() as tx:
        return SupplierReviews(tx).list()


def test_same_merges_the_later_supplier_into_the_earlier_one(
    store: Store, resolve: Resolve, suppliers: Suppliers, outbox_types: Read
) -> None:
    # Given two suppliers kept apart as a near match
    inc, llc = resolve(KERR)
    (item,) = llc.reviews

    # When a person says they are the same
    decided = _decide(store, item, "same", note="one firm, re-registered")

    # Then the answer is recorded and the later supplier points at the earlier
    assert decided.decision is Decision.SAME
    assert (decided.decided_by, decided.note) == ("Ann", "one firm, re-registered")
    assert decided.decided_at is not None
    kept, merged = suppliers()
    assert kept.id == inc.supplier.id
    assert kept.status is SupplierStatus.ACTIVE
    assert kept.aliases == KERR
    assert merged.id == llc.supplier.id
    assert merged.status is SupplierStatus.MERGED
    assert merged.merged_into == kept.id
    assert merged.changed_by == "Ann"
    assert outbox_types()[-2:] == [
        "tieline.supplier.updated",
        "tieline.supplier.merged",
    ]
    assert _pending(store) == []


def test_after_same_every_spelling_of_the_pair_resolves_to_the_chosen_supplier(
    store: Store, resolve: Resolve, suppliers: Suppliers, outbox_types: Read
) -> None:
    # Given a near pair decided "same"
    inc, llc = resolve(KERR)
    _decide(store, llc.reviews[0], "same")
    events = outbox_types()

    # When both spellings come again, with a bare one that fits the merged pair
    again = resolve([*KERR, "Kerr Contractors Oregon"])

    # Then all land on the chosen supplier, and only the new spelling changed it
    assert [r.supplier.id for r in again] == [inc.supplier.id] * 3
    assert [r.rule for r in again] == [
        MatchRule.SAME_NAME,
        MatchRule.SAME_NAME,
        MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM,
    ]
    assert outbox_types() == [*events, "tieline.supplier.updated"]
    assert suppliers()[0].aliases == [*KERR, "Kerr Contractors Oregon"]


def test_different_keeps_both_and_the_pair_is_never_asked_again(
    store: Store,
    resolve: Resolve,
    suppliers: Suppliers,
    outbox_types: Read,
    review_keys: Read,
) -> None:
    # Given a near pair decided "different"
    _inc, llc = resolve(KERR)
    decided = _decide(store, llc.reviews[0], "different")
    events, keys = outbox_types(), review_keys()

    # When the same names are resolved again
    again = resolve(KERR)

    # Then both suppliers stay, and nothing is asked or written
    assert decided.decision is Decision.DIFFERENT
    assert [r.reviews for r in again] == [(), ()]
    assert [s.status for s in suppliers()] == [SupplierStatus.ACTIVE] * 2
    assert outbox_types() == events
    assert review_keys() == keys
    assert _pending(store) == []


def test_same_follows_earlier_merges_so_a_chain_ends_in_one_supplier(
    store: Store, resolve: Resolve, suppliers: Suppliers
) -> None:
    # Given GOODFELLOW INC, GOODFELLA INC and GOODFELLOWS LLC, each pair near
    resolutions = resolve(
        ["GOODFELLOW BROS INC.", "GOODFELLA BROS INC.", "GOODFELLOWS BROS LLC"]
    )
    first = resolutions[0].supplier
    items = [item for r in resolutions for item in r.reviews]
    assert len(items) == 3

    # When every pair is decided "same"
    for item in items:
        _decide(store, item, "same")

    # Then the first supplier carries every spelling; the others point at it
    kept, *merged = suppliers()
    assert kept.id == first.id
    assert kept.aliases == [
        "GOODFELLOW BROS INC.",
        "GOODFELLA BROS INC.",
        "GOODFELLOWS BROS LLC",
    ]
    assert [(s.status, s.merged_into) for s in merged] == [
        (SupplierStatus.MERGED, first.id),
        (SupplierStatus.MERGED, first.id),
    ]


def test_the_resolver_sees_a_decision_it_took_itself(store: Store) -> None:
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system="bid-tabs", actor="import:test")
        inc = resolver.resolve(KERR[0])
        (item,) = resolver.resolve(KERR[1]).reviews
        resolver.decide(item, decision=Decision.SAME, by="Ann")
        after = resolver.resolve(KERR[1])

    assert after.supplier.id == inc.supplier.id
    assert not after.created


def test_a_decision_is_final_but_repeating_it_is_harmless(
    store: Store, resolve: Resolve, outbox_types: Read
) -> None:
    _inc, llc = resolve(KERR)
    item = llc.reviews[0]
    first = _decide(store, item.id, "same")
    events = outbox_types()

    repeated = _decide(store, item.id, "same")
    with pytest.raises(ReviewAlreadyDecided, match="already decided 'same'"):
        _decide(store, item.id, "different")

    assert repeated == first
    assert outbox_types() == events


def test_a_decision_needs_a_known_item_an_answer_and_a_name(
    store: Store, resolve: Resolve
) -> None:
    _inc, llc = resolve(KERR)
    item = llc.reviews[0]

    with pytest.raises(RecordNotFound, match="no supplier review item"):
        _decide(store, item.id + 1000, "same")
    with pytest.raises(ValidationFailed, match="'same' or 'different'") as answer:
        _decide(store, item, "maybe")
    with pytest.raises(ValidationFailed, match="who took it") as person:
        _decide(store, item, "same", by="  ")

    assert answer.value.field == "decision"
    assert person.value.field == "decided_by"
    assert _pending(store) == [item]
