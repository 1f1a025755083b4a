"""Consumers with a batch handler: a chunk at once, the same outcomes as one by one."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, select

from tieline.errors import RetryableError
from tieline.events import Bus, Consumer, Outcome
from tieline.events._inbox import handle_many_in, handle_once
from tieline.retry import RetryPolicy
from tieline.store import Store, Transaction
from tieline.store._schema import inbox

from .conftest import Harness, count_effects, effects, record_effect

QUICK = RetryPolicy(initial_delay=0.01, max_delay=0.05, max_attempts=5)


def _effects_by_subject(store: Store) -> dict[str, list[int]]:
    by_subject: dict[str, list[int]] = defaultdict(list)
    with store.engine.connect() as connection:
        for row in connection.execute(select(effects).order_by(effects.c.id)):
            by_subject[row.subject].append(row.n)
    return by_subject


def test_a_failing_chunk_is_handled_again_event_by_event(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given 300 versioned events over 10 records, one of them late (stale),
    # and one that fails twice before it goes through
    events = [(f"commitment/{n % 10}", n, n // 10 + 1) for n in range(300)]
    events.insert(150, ("commitment/3", 999, 2))  # version 2 after version 15
    with store.transaction() as tx:
        ids = [
            tx.emit("tieline.commitment.updated", s, {"n": n, "version": v}).id
            for s, n, v in events
        ]
    bad = ids[200]
    failures_left = [2]
    sizes: list[int] = []
    write = record_effect("batched")

    def handle(tx: Transaction, event: dict[str, Any]) -> None:
        write(tx, event)  # rolled back with the savepoint when we raise
        if event["id"] == bad and failures_left[0] > 0:
            failures_left[0] -= 1
            raise RetryableError("Odoo answered 503")

    def handle_many(tx: Transaction, batch: list[dict[str, Any]]) -> None:
        sizes.append(len(batch))
        for event in batch:
            handle(tx, event)

    consumer = Consumer(
        "batched", ("tieline.commitment.>",), handle, QUICK, batch_handler=handle_many
    )

    # When the worker runs
    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(
            lambda: (
                harness.worker.stats.get("batched", "handled") == 300
                and harness.worker.stats.get("batched", "stale") == 1
            )
        )

    # Then each record's events took effect once each, in order, the late
    # one never, the failing one after its retry
    expected: dict[str, list[int]] = defaultdict(list)
    for subject, n, _ in events:
        if n != 999:
            expected[subject].append(n)
    assert _effects_by_subject(store) == expected
    assert count_effects(store) == 300
    assert failures_left == [0]
    assert harness.worker.stats.get("batched", "retried") == 1
    # and the batch handler took many events at once
    assert max(sizes) > 1


def test_handle_many_gives_each_event_the_outcome_one_by_one_would(
    store: Store, effects_table: Table
) -> None:
    with store.transaction() as tx:
        first, fresh, newer, late = (
            tx.emit("tieline.commitment.updated", s, {"n": n, "version": v})
            for s, n, v in (
                ("commitment/a", 1, 1),
                ("commitment/b", 2, 1),
                ("commitment/c", 3, 3),
                ("commitment/c", 4, 2),
            )
        )
    for event in (first, newer):
        handle_once(store, "once", record_effect("once"), event.to_dict())
    seen: list[str] = []

    def handle_many(tx: Transaction, batch: list[dict[str, Any]]) -> None:
        seen.extend(e["id"] for e in batch)

    # Given one event handled before, one new (twice in the batch) and one
    # older than a version already handled
    batch = [e.to_dict() for e in (first, fresh, fresh, late)]
    with store.transaction() as tx:
        outcomes = handle_many_in(tx, "once", record_effect("once"), batch, handle_many)

    assert outcomes == [
        Outcome.DUPLICATE,
        Outcome.HANDLED,
        Outcome.DUPLICATE,
        Outcome.STALE,
    ]
    assert seen == [fresh.id]
    with store.engine.connect() as connection:
        rows = dict(
            connection.execute(
                select(inbox.c.event_id, inbox.c.outcome).where(
                    inbox.c.consumer == "once"
                )
            ).all()
        )
    assert rows == {
        first.id: "handled",
        newer.id: "handled",
        fresh.id: "handled",
        late.id: "stale",
    }
