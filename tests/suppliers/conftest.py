"""Helpers for the supplier tests: resolve names in one transaction, read the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from sqlalchemy import select

from tieline.model import Supplier
from tieline.store import Store
from tieline.store._schema import outbox, review_items
from tieline.suppliers import Resolution, SupplierResolver

SYSTEM = "bid-tabs"
ACTOR = "import:bid-tabs"

Resolve = Callable[[Iterable[str]], list[Resolution]]


def resolve_in(store: Store, names: Iterable[str]) -> list[Resolution]:
    """Resolve `names` in order, in one transaction, as an importer would."""
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system=SYSTEM, actor=ACTOR)
        return [resolver.resolve(name) for name in names]


def suppliers_in(store: Store) -> list[Supplier]:
    """Every supplier, in the order they were created."""
    with store.transaction() as tx:
        return tx.list(Supplier)


@pytest.fixture
def suppliers(store: Store) -> Callable[[], list[Supplier]]:
    """Reads every supplier, in the order they were created."""
    return lambda: suppliers_in(store)


@pytest.fixture
def resolve(store: Store) -> Resolve:
    """Resolve names in one transaction of the test's store."""
    return lambda names: resolve_in(store, names)


@pytest.fixture
def outbox_types(store: Store) -> Callable[[], list[str]]:
    """The types of the events in the outbox, oldest first."""

    def read() -> list[str]:
        with store.engine.connect() as connection:
            query = select(outbox.c.type).order_by(outbox.c.seq)
            return list(connection.execute(query).scalars())

    return read


@pytest.fixture
def review_keys(store: Store) -> Callable[[], list[str]]:
    """The item keys of every review item, decided or not, oldest first."""

    def read() -> list[str]:
        with store.engine.connect() as connection:
            query = select(review_items.c.item_key).order_by(review_items.c.id)
            return list(connection.execute(query).scalars())

    return read
