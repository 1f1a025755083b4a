"""The relay hands on every committed event once, in order, even with slow writers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tieline._context import unit_of_work
from tieline.events import OutboxRelay
from tieline.store import Store, Transaction
from tieline.testing.waiting import wait_for


class ListSink:
    """A sink that remembers what it was handed."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, events: Sequence[dict[str, Any]]) -> None:
        self.events.extend(events)


def _drain(relay: OutboxRelay, expected: int) -> int:
    """Drain until `expected` events were handed on.

    On PostgreSQL the relay holds back while any older transaction on the
    server is still open (other test runs share it), so one drain may be short.
    """
    total = 0

    def drained() -> bool:
        nonlocal total
        total += relay.drain()
        return total >= expected

    wait_for(drained, "the outbox relay", progress=lambda: total, poll=0.01)
    return total + relay.drain()


def _emit(tx: Transaction, n: int) -> str:
    return tx.emit("tieline.import.completed", f"import/{n}", {"n": n}).id


def test_the_relay_hands_on_each_event_once_in_order(store: Store) -> None:
    with unit_of_work(), store.transaction() as tx:
        ids = [_emit(tx, n) for n in range(7)]
    sink = ListSink()
    relay = OutboxRelay(store, sink=sink, batch_size=3)

    assert _drain(relay, 7) == 7
    assert relay.drain() == 0
    assert [e["id"] for e in sink.events] == ids


def test_a_restarted_relay_continues_after_its_position(store: Store) -> None:
    with store.transaction() as tx:
        first = [_emit(tx, n) for n in range(3)]
    sink = ListSink()
    _drain(OutboxRelay(store, sink=sink), 3)
    with store.transaction() as tx:
        second = [_emit(tx, n) for n in range(3, 5)]

    _drain(OutboxRelay(store, sink=sink), 2)

    assert [e["id"] for e in sink.events] == first + second


@pytest.mark.postgres
def test_a_slow_writer_is_not_skipped_on_postgresql(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; the case cannot arise")
    sink = ListSink()
    relay = OutboxRelay(store, sink=sink)

    # Given a slow transaction that takes the lower seq and has not committed
    slow = store.engine.connect()
    slow_tx = slow.begin()
    slow_id = _emit(Transaction(slow), 1)
    # and a quick one that takes the higher seq and commits first
    with store.transaction() as tx:
        quick_id = _emit(tx, 2)

    # When the relay runs while the slow one is still open
    handed_early = relay.drain()

    # Then it waits for the slow one rather than moving past its seq
    assert handed_early == 0
    slow_tx.commit()
    slow.close()
    assert _drain(relay, 2) == 2
    assert [e["id"] for e in sink.events] == [slow_id, quick_id]


def test_a_failing_sink_keeps_the_batch_for_the_next_try(store: Store) -> None:
    with store.transaction() as tx:
        wanted = _emit(tx, 1)
    calls: list[list[str]] = []

    def flaky(events: Sequence[dict[str, Any]]) -> None:
        calls.append([e["id"] for e in events])
        if len(calls) == 1:
            raise ConnectionError("bus down")

    relay = OutboxRelay(store, sink=flaky)
    with pytest.raises(ConnectionError):
        _drain(relay, 1)

    assert _drain(relay, 1) == 1
    assert calls == [[wanted], [wanted]]
