"""The bus and consumer contract, run on the SQL event log and on NATS JetStream.

Every test here runs four times: {SQL log, NATS} x {SQLite, PostgreSQL}.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import Table, select

from tieline.errors import PermanentError, RetryableError
from tieline.events import Bus, Consumer, ConsumerWorker, OutboxRelay
from tieline.events.deadletters import (
    DeadLetterFilter,
    list_dead_letters,
    replay,
)
from tieline.retry import RetryPolicy
from tieline.store import Store, Transaction

from .conftest import Harness, count_effects, effects, record_effect

QUICK = RetryPolicy(initial_delay=0.01, max_delay=0.05, max_attempts=3)


def _emit(store: Store, events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    with store.transaction() as tx:
        return [
            tx.emit("tieline.commitment.updated", subject, data).id
            for subject, data in events
        ]


def _effects_by_subject(store: Store) -> dict[str, list[int]]:
    by_subject: dict[str, list[int]] = defaultdict(list)
    with store.engine.connect() as connection:
        for row in connection.execute(select(effects).order_by(effects.c.id)):
            by_subject[row.subject].append(row.n)
    return by_subject


def test_every_event_is_handled_once_and_in_order_per_subject(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given 400 events over 10 subjects, interleaved
    _emit(store, [(f"commitment/{n % 10}", {"n": n}) for n in range(400)])
    consumer = Consumer("ledger", ("tieline.commitment.>",), record_effect("ledger"))

    # When the relay and a worker run until all are handled
    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(lambda: count_effects(store) >= 400)
        harness.wait_for(lambda: harness.worker.stats.get("ledger", "handled") == 400)

    # Then each event had one effect, and each subject saw its events in order
    assert count_effects(store) == 400
    by_subject = _effects_by_subject(store)
    assert sorted(by_subject) == [f"commitment/{k}" for k in range(10)]
    for subject, numbers in by_subject.items():
        key = int(subject.split("/")[1])
        assert numbers == list(range(key, 400, 10))


def test_an_event_served_again_is_handled_once(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given a worker that handled a batch but died before acknowledging it
    _emit(store, [(f"commitment/{n}", {"n": n}) for n in range(20)])
    consumer = Consumer("ledger", ("tieline.commitment.>",), record_effect("ledger"))
    OutboxRelay(store, sink=bus.publish).drain()
    first = ConsumerWorker(store, bus, [consumer])
    (feed,) = bus.feeds(consumer.subscription)
    batch = feed.fetch(100, 5.0)
    assert batch is not None
    assert first._work(consumer, batch, threading.Event())
    first.close()
    assert count_effects(store) == len(batch.deliveries)

    # When another worker is served the same events again
    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(
            lambda: (
                harness.worker.stats.get("ledger", "duplicate") == len(batch.deliveries)
                and count_effects(store) == 20
            )
        )

    # Then the inbox dropped every repeat: still one effect per event
    assert count_effects(store) == 20
    assert harness.worker.stats.get("ledger", "handled") == 20 - len(batch.deliveries)


def test_an_older_version_arriving_late_is_skipped(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given version 3 of a document, then a late version 2 of it
    _emit(
        store,
        [
            ("commitment/a", {"n": 3, "version": 3}),
            ("commitment/a", {"n": 2, "version": 2}),
            ("commitment/a", {"n": 4, "version": 4}),
        ],
    )
    consumer = Consumer("status", ("tieline.commitment.>",), record_effect("status"))

    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(lambda: harness.worker.stats.get("status", "stale") == 1)
        harness.wait_for(lambda: harness.worker.stats.get("status", "handled") == 2)

    # Then the late one never reached the handler
    assert _effects_by_subject(store) == {"commitment/a": [3, 4]}


def test_a_retryable_failure_is_retried_then_handled(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    failures: dict[str, int] = defaultdict(int)
    write = record_effect("flaky")

    def flaky(tx: Transaction, event: dict[str, Any]) -> None:
        write(tx, event)  # rolled back with the transaction when we raise
        if failures[event["id"]] < 2:
            failures[event["id"]] += 1
            raise RetryableError("Odoo answered 503")

    _emit(store, [("commitment/x", {"n": 1}), ("commitment/y", {"n": 2})])
    consumer = Consumer("flaky", ("tieline.commitment.>",), flaky, retry=QUICK)

    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(lambda: harness.worker.stats.get("flaky", "handled") == 2)

    assert harness.worker.stats.get("flaky", "retried") == 4
    assert count_effects(store) == 2
    assert list_dead_letters(store, DeadLetterFilter()) == []


def test_a_permanent_failure_is_dead_lettered_and_replayed_once(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    fixed = threading.Event()
    write = record_effect("poster")

    def post(tx: Transaction, event: dict[str, Any]) -> None:
        if event["data"].get("bad") and not fixed.is_set():
            raise PermanentError("cost code 99 99 99 is not in Odoo")
        write(tx, event)

    # Given one bad event among good ones
    (bad_id, *_) = _emit(
        store,
        [("commitment/bad", {"n": 0, "bad": True, "project_id": "p-1"})]
        + [(f"commitment/{n}", {"n": n}) for n in range(1, 6)],
    )
    consumer = Consumer("poster", ("tieline.commitment.>",), post, retry=QUICK)

    # When the worker runs
    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(
            lambda: (
                harness.worker.stats.get("poster", "dead_lettered") == 1
                and harness.worker.stats.get("poster", "handled") == 5
            )
        )

    # Then the bad one is a dead letter after one attempt, with the reason
    (letter,) = list_dead_letters(store, DeadLetterFilter(project_id="p-1"))
    assert letter.event_id == bad_id
    assert letter.consumer == "poster"
    assert len(letter.attempts) == 1
    assert letter.reason == (
        "PermanentError is permanent: cost code 99 99 99 is not in Odoo"
    )
    # And once fixed, a replay handles it once; a second replay is refused
    fixed.set()
    assert replay(store, {"poster": post}, letter.id, actor="ops") == "handled"
    with pytest.raises(PermanentError, match="replayed, not open"):
        replay(store, {"poster": post}, letter.id, actor="ops")
    assert count_effects(store) == 6


def test_exhausted_retries_keep_every_attempt(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    def down(tx: Transaction, event: dict[str, Any]) -> None:
        raise RetryableError("connection refused")

    _emit(store, [("commitment/z", {"n": 1})])
    consumer = Consumer("down", ("tieline.commitment.>",), down, retry=QUICK)

    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(lambda: harness.worker.stats.get("down", "dead_lettered") == 1)

    (letter,) = list_dead_letters(store, DeadLetterFilter(consumer="down"))
    assert [a["error"] for a in letter.attempts] == [
        "RetryableError: connection refused"
    ] * 3
    assert letter.reason == (
        "gave up after 3 attempts; last was a retryable RetryableError: "
        "connection refused"
    )


def test_a_subject_waiting_to_retry_does_not_hold_up_the_others(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    write = record_effect("lanes")
    order: list[str] = []

    def handler(tx: Transaction, event: dict[str, Any]) -> None:
        if event["subject"] == "commitment/slow" and "slow failed" not in order:
            order.append("slow failed")
            raise RetryableError("Odoo is restarting")
        write(tx, event)
        order.append(event["subject"])

    # Given a subject whose first attempt fails and waits a second to retry
    _emit(
        store,
        [("commitment/slow", {"n": 0})]
        + [("commitment/fast", {"n": n}) for n in range(1, 6)],
    )
    policy = RetryPolicy(initial_delay=1.0, jitter=0.0, max_attempts=3)
    consumer = Consumer("lanes", ("tieline.commitment.>",), handler, retry=policy)
    OutboxRelay(store, sink=bus.publish).drain()  # one batch

    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(lambda: harness.worker.stats.get("lanes", "handled") == 6)

    # Then the other subject's events went through while it waited
    assert "slow failed" in order
    assert order[-1] == "commitment/slow"
    assert order.count("commitment/fast") == 5


@pytest.mark.postgres
def test_slow_handlers_of_different_subjects_in_a_batch_run_in_parallel(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: handlers' transactions take turns")
    others_done = threading.Event()
    write = record_effect("lanes")
    seen: list[str] = []

    def handler(tx: Transaction, event: dict[str, Any]) -> None:
        if event["subject"] == "commitment/slow":
            # Waits for the other subject's events, which only a parallel
            # lane can deliver; a serial worker would time out here.
            seen.append("slow waited" if others_done.wait(10) else "slow timed out")
        write(tx, event)
        if event["data"]["n"] == 5:
            others_done.set()

    _emit(
        store,
        [("commitment/slow", {"n": 0})]
        + [("commitment/fast", {"n": n}) for n in range(1, 6)],
    )
    consumer = Consumer("lanes", ("tieline.commitment.>",), handler)
    # All six travel in one batch: lanes run in parallel within a batch.
    OutboxRelay(store, sink=bus.publish).drain()

    with Harness(store, bus, [consumer]) as harness:
        harness.wait_for(lambda: harness.worker.stats.get("lanes", "handled") == 6)

    assert seen == ["slow waited"]


def test_a_consumer_sees_only_its_subscription(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    with store.transaction() as tx:
        tx.emit("tieline.commitment.approved", "commitment/1", {"n": 1})
        tx.emit("tieline.commitment.updated", "commitment/1", {"n": 2})
        tx.emit("tieline.supplier_invoice.approved", "supplier_invoice/9", {"n": 3})
        tx.emit("tieline.project.created", "project/2", {"n": 4})
    approvals = Consumer(
        "approvals", ("tieline.*.approved",), record_effect("approvals")
    )

    with Harness(store, bus, [approvals]) as harness:
        harness.wait_for(lambda: harness.worker.stats.get("approvals", "handled") == 2)
        # Give a wrongly subscribed event time to arrive before checking.
        harness.stop.wait(0.5)

    handled = [n for numbers in _effects_by_subject(store).values() for n in numbers]
    assert sorted(handled) == [1, 3]
