"""The SQL event log's lease: one reader per consumer, reads that write nothing.

A feed takes the lease in a write transaction, then reads events without
writing while the lease is surely its own. A reader whose lease was taken
over moves nothing, and reads nothing until it holds the lease again.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tieline.events import Batch, Feed, SqlLogBus, Subscription
from tieline.store import Store
from tieline.store._schema import consumer_offsets
from tieline.testing.waiting import wait_for

SUBSCRIPTION = Subscription("ledger", ("tieline.>",))


def _emit(store: Store, count: int) -> None:
    with store.transaction() as tx:
        for n in range(count):
            tx.emit("tieline.project.updated", f"project/{n}", {"n": n})


def _numbers(batch: Batch) -> list[int]:
    return [d.event["data"]["n"] for d in batch.deliveries]


def _fetch(feed: Feed) -> Batch:
    """The next batch; on PostgreSQL, other sessions' open transactions may
    hold the log back for a moment (see tieline.events._log)."""
    found: list[Batch] = []

    def fetched() -> bool:
        batch = feed.fetch(5, 0)
        if batch is not None:
            found.append(batch)
        return bool(found)

    wait_for(fetched, f"a batch from {feed.name}")
    return found[0]


def _acknowledged(store: Store) -> int:
    with store.read() as tx:
        return int(
            tx.connection.execute(
                select(consumer_offsets.c.last_seq).where(
                    consumer_offsets.c.consumer == SUBSCRIPTION.consumer
                )
            ).scalar_one()
        )


def _expire_lease(store: Store) -> None:
    """As if the holder had stalled past its lease."""
    with store.transaction() as tx:
        tx.connection.execute(
            update(consumer_offsets).values(
                lease_until=datetime.now(UTC) - timedelta(seconds=1)
            )
        )


def test_a_reader_whose_lease_was_taken_over_moves_nothing(store: Store) -> None:
    # Given a first reader holding a batch of the first five events
    _emit(store, 8)
    (first,) = SqlLogBus(store).feeds(SUBSCRIPTION)
    (second,) = SqlLogBus(store).feeds(SUBSCRIPTION)
    held = _fetch(first)
    assert _numbers(held) == [0, 1, 2, 3, 4]

    # When its lease runs out and a second reader takes over
    _expire_lease(store)
    taken = _fetch(second)

    # Then the second reads from the last acknowledged position, the first
    # one's acknowledgement moves nothing, and the first reads nothing more
    assert _numbers(taken) == [0, 1, 2, 3, 4]
    held.ack()
    assert _acknowledged(store) == 0
    assert first.fetch(5, 0) is None
    taken.ack()
    assert _numbers(_fetch(second)) == [5, 6, 7]


def test_a_reader_holding_the_lease_reads_while_a_writer_holds_the_database(
    store: Store,
) -> None:
    # Given a reader that took the lease, and two more events
    (feed,) = SqlLogBus(store).feeds(SUBSCRIPTION)
    assert feed.fetch(5, 0) is None
    _emit(store, 2)
    busy, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction() as tx:
            tx.emit("tieline.project.updated", "project/9", {"n": 9})
            busy.set()
            release.wait(30)

    # When another thread holds a write transaction open
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert busy.wait(30)
        batch = _fetch(feed)
    finally:
        release.set()
        thread.join(30)

    # Then the reader did not wait for it: it read what was committed
    assert _numbers(batch) == [0, 1]
