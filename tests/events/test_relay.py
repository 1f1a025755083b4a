"""The relay hands on outbox events in order and remembers where it stopped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tieline.events import OutboxRelay
from tieline.model import CostCode, Origin
from tieline.store import Store


def _code(number: int) -> CostCode:
    return CostCode(
        origin=Origin(system="wbs", key=str(number)),
        system="wbs",
        code=f"1.{number}",
        name=f"Package {number}",
    )


def test_events_are_handed_on_in_order_once_per_relay(store: Store) -> None:
    # Given five changes, relayed in batches of two
    with store.transaction() as tx:
        for number in range(5):
            tx.save(_code(number), actor="test")
    seen: list[str] = []

    def sink(events: Sequence[dict[str, Any]]) -> None:
        seen.extend(str(e["data"]["code"]) for e in events)

    relay = OutboxRelay(store, sink=sink, batch_size=2)

    # When it drains, then a new relay of the same name runs again
    assert relay.drain() == 5
    assert OutboxRelay(store, sink=sink).drain() == 0

    # Then each event was handed on once, in the order written
    assert seen == ["1.0", "1.1", "1.2", "1.3", "1.4"]


def test_a_failing_sink_keeps_the_batch_for_the_next_try(store: Store) -> None:
    with store.transaction() as tx:
        tx.save(_code(1), actor="test")
    calls: list[int] = []

    def flaky(events: Sequence[dict[str, Any]]) -> None:
        calls.append(len(events))
        if len(calls) == 1:
            raise ConnectionError("bus down")

    relay = OutboxRelay(store, sink=flaky)
    with pytest.raises(ConnectionError):
        relay.run_once()

    assert relay.run_once() == 1
    assert calls == [1, 1]
