"""Parked retries: a record whose retry is far off holds up no other record.

Every test here runs on {SQL log, NATS} x {SQLite, PostgreSQL}, except the
one about two workers, which needs no bus. Retry times are far off on a
clock the test moves, so nothing waits for them in real time.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from structlog.testing import capture_logs

from tieline.errors import ConfigurationError, RetryableError
from tieline.events import Bus, Consumer, ConsumerWorker, SqlLogBus, parking
from tieline.events.deadletters import DeadLetterFilter, list_dead_letters, replay
from tieline.retry import RetryPolicy
from tieline.store import Store, Transaction
from tieline.testing.waiting import wait_for

from .conftest import Harness, count_effects, effects, record_effect

STUCK = "commitment/stuck"
DOWN = "RetryableError: Odoo is down for maintenance"
# A minute between attempts: far beyond what a lane waits for (park_after).
SLOW = RetryPolicy(
    initial_delay=60.0, factor=1.0, max_delay=60.0, jitter=0.0, max_attempts=10
)


class Clock:
    """The worker's clock, moved by the test; starts at the real time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


class Flaky:
    """A handler that fails for one subject while `broken`; counts its calls."""

    def __init__(self, consumer: str, subject: str = STUCK) -> None:
        self.write = record_effect(consumer)
        self.subject = subject
        self.broken = True
        self.calls: list[str] = []

    def __call__(self, tx: Transaction, event: dict[str, Any]) -> None:
        if event["subject"] == self.subject:
            self.calls.append(event["id"])
            if self.broken:
                raise RetryableError("Odoo is down for maintenance")
        self.write(tx, event)


def _emit(store: Store, events: list[tuple[str, int]]) -> list[str]:
    with store.transaction() as tx:
        return [
            tx.emit("tieline.commitment.updated", subject, {"n": n}).id
            for subject, n in events
        ]


def _effects_by_subject(store: Store) -> dict[str, list[int]]:
    by_subject: dict[str, list[int]] = defaultdict(list)
    with store.engine.connect() as connection:
        for row in connection.execute(select(effects).order_by(effects.c.id)):
            by_subject[row.subject].append(row.n)
    return by_subject


def _effects_of(store: Store, event_id: str) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(effects)
                .where(effects.c.event_id == event_id)
            ).scalar_one()
        )


def _parked(store: Store, consumer: str) -> list[parking.ParkedEvent]:
    return parking.list_parked(store, consumer)


def _tries(store: Store, consumer: str) -> int:
    """How many attempts the consumer's first parked event has made."""
    parked = _parked(store, consumer)
    return len(parked[0].attempts) if parked else 0


def test_a_subject_waiting_long_to_retry_lets_every_other_subject_through(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given 60 events in batches of 10: the first and two later ones belong
    # to a record whose push fails, and whose next attempt is 10 minutes off
    others = [f"commitment/{k}" for k in range(6)]
    events = [(STUCK if n in (0, 25, 47) else others[n % 6], n) for n in range(60)]
    (stuck_id, *_) = _emit(store, events)
    flaky = Flaky("parking")
    policy = SLOW.with_(initial_delay=600.0, max_delay=600.0)
    consumer = Consumer("parking", ("tieline.commitment.>",), flaky, retry=policy)
    clock = Clock()

    with (
        capture_logs() as logs,
        Harness(store, bus, [consumer], batch_size=10, clock=clock) as harness,
    ):
        stats = harness.worker.stats
        # When the worker runs, every other record's events are handled while
        # the failed one waits (the old worker held its batch for 10 minutes)
        harness.wait_for(
            lambda: (
                stats.get("parking", "handled") == 57
                and stats.get("parking", "parked") == 3
            )
        )
        waiting = _parked(store, "parking")
        handled_while_waiting = _effects_by_subject(store)

        # and once the failure clears and its retry is due, it goes through
        flaky.broken = False
        clock.advance(601)
        harness.wait_for(lambda: stats.get("parking", "handled") == 60)

    # Then the failed event waited, with its attempt, its next try and the
    # later events of its record behind it, in order
    assert [p.event["data"]["n"] for p in waiting] == [0, 25, 47]
    assert [a["error"] for a in waiting[0].attempts] == [DOWN]
    assert waiting[0].next_attempt_at == (
        datetime.fromisoformat(waiting[0].attempts[0]["at"]) + timedelta(seconds=600)
    )
    assert [p.attempts for p in waiting[1:]] == [[], []]
    assert [p.next_attempt_at for p in waiting[1:]] == [None, None]
    assert STUCK not in handled_while_waiting
    scheduled = [log for log in logs if log["event"] == "consumer.retry_scheduled"]
    assert [(log["event_id"], log["error"], log["parked"]) for log in scheduled] == [
        (stuck_id, DOWN, True)
    ]
    assert (scheduled[0]["attempt"], scheduled[0]["delay"]) == (1, 600.0)
    assert sum(map(len, handled_while_waiting.values())) == 57
    # and afterwards its events were handled once each, in their order
    by_subject = _effects_by_subject(store)
    assert by_subject[STUCK] == [0, 25, 47]
    for subject in others:
        assert by_subject[subject] == [n for s, n in events if s == subject]
    assert count_effects(store) == 60
    assert flaky.calls.count(stuck_id) == 2
    assert _parked(store, "parking") == []
    assert list_dead_letters(store, DeadLetterFilter()) == []


def test_a_parked_event_survives_a_worker_restart_and_is_handled_once(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given a record whose push keeps failing, a minute between attempts
    (stuck_id, follower_id) = _emit(store, [(STUCK, 0), (STUCK, 1)])
    flaky = Flaky("restart")
    consumer = Consumer("restart", ("tieline.commitment.>",), flaky, retry=SLOW)
    clock = Clock()

    # When a first worker parks it and tries it once more, then stops
    with Harness(store, bus, [consumer], clock=clock) as first:
        first.wait_for(lambda: first.worker.stats.get("restart", "parked") == 2)
        clock.advance(61)
        first.wait_for(lambda: _tries(store, "restart") == 2)
    before_restart = _parked(store, "restart")

    # and a new worker, with nothing in memory, takes it over
    with Harness(store, bus, [consumer], clock=clock) as second:
        clock.advance(61)
        second.wait_for(lambda: _tries(store, "restart") == 3)
        after_one_more = _parked(store, "restart")
        flaky.broken = False
        clock.advance(61)
        second.wait_for(lambda: second.worker.stats.get("restart", "handled") == 2)

    # Then the new worker went on counting where the first stopped
    assert [p.event["id"] for p in before_restart] == [stuck_id, follower_id]
    assert after_one_more[0].attempts[:2] == before_restart[0].attempts
    assert [a["error"] for a in after_one_more[0].attempts] == [DOWN] * 3
    # and the event took effect exactly once, then the one behind it
    assert flaky.calls.count(stuck_id) == 4
    assert _effects_by_subject(store) == {STUCK: [0, 1]}
    assert _effects_of(store, stuck_id) == 1
    assert second.worker.stats.get("restart", "duplicate") == 0
    assert _parked(store, "restart") == []


def test_a_parked_event_out_of_attempts_is_dead_lettered_with_those_behind_it(
    store: Store, bus: Bus, effects_table: Table
) -> None:
    # Given a record with three events whose first keeps failing, three
    # attempts a minute apart, and another record that is fine
    ids = _emit(store, [(STUCK, 0), (STUCK, 1), ("commitment/ok", 2), (STUCK, 3)])
    flaky = Flaky("giving-up")
    policy = SLOW.with_(max_attempts=3)
    consumer = Consumer("giving-up", ("tieline.commitment.>",), flaky, retry=policy)
    clock = Clock()

    # When its retries run out, the second attempt in one worker and the
    # third in another
    with Harness(store, bus, [consumer], clock=clock) as first:
        first.wait_for(lambda: first.worker.stats.get("giving-up", "parked") == 3)
        clock.advance(61)
        first.wait_for(lambda: _tries(store, "giving-up") == 2)
    with Harness(store, bus, [consumer], clock=clock) as second:
        clock.advance(61)
        second.wait_for(
            lambda: second.worker.stats.get("giving-up", "dead_lettered") == 3
        )

    # Then it is a dead letter with all three attempts, and the events held
    # behind it are dead letters too, saying why; the other record went on
    head, *held = list_dead_letters(store, DeadLetterFilter(consumer="giving-up"))
    assert head.event_id == ids[0]
    assert [a["error"] for a in head.attempts] == [DOWN] * 3
    assert head.reason == (
        "gave up after 3 attempts; last was a retryable RetryableError: "
        "Odoo is down for maintenance"
    )
    assert [letter.event_id for letter in held] == [ids[1], ids[3]]
    for letter in held:
        assert letter.attempts == []
        assert letter.error_type == "RetryableError"
        assert letter.reason == (
            f"held behind event {ids[0]} of {STUCK}, which was dead-lettered: "
            + head.reason
        )
    assert _effects_by_subject(store) == {"commitment/ok": [2]}
    assert _parked(store, "giving-up") == []

    # And once fixed, replayed oldest first, they take effect once, in order
    flaky.broken = False
    for letter in [head, *held]:
        assert replay(store, {"giving-up": flaky}, letter.id, actor="ops") == (
            "handled"
        )
    assert _effects_by_subject(store)[STUCK] == [0, 1, 3]


def test_two_workers_share_parked_retries_without_handling_one_twice(
    store: Store, effects_table: Table
) -> None:
    # Given 40 records with one parked event each, all due
    events = [
        {"id": f"e-{n}", "type": "tieline.commitment.updated", "subject": f"c/{n}"}
        | {"data": {"n": n}}
        for n in range(40)
    ]
    now = datetime.now(UTC)
    with store.transaction() as tx:
        for event in events:
            parking.park(tx.connection, "shared", [event], now=now, retry_at=now)
    consumer = Consumer("shared", ("tieline.commitment.>",), record_effect("shared"))
    workers = [
        ConsumerWorker(store, SqlLogBus(store), [consumer], lanes=4) for _ in range(2)
    ]
    stop = threading.Event()

    # When two workers retry them at the same time
    def retry_all(worker: ConsumerWorker) -> None:
        while parking.list_parked(store, "shared") and not stop.is_set():
            worker.retry_parked(consumer, stop)

    threads = [
        threading.Thread(target=retry_all, args=(w,), daemon=True) for w in workers
    ]
    try:
        for thread in threads:
            thread.start()
        wait_for(
            lambda: not any(t.is_alive() for t in threads),
            "both workers finishing the parked retries",
            progress=lambda: count_effects(store),
        )
    finally:
        stop.set()
        for worker in workers:
            worker.close()

    # Then each was handled once, by one of them: none claimed twice
    handled = [w.stats.get("shared", "handled") for w in workers]
    duplicates = [w.stats.get("shared", "duplicate") for w in workers]
    assert sum(handled) == 40
    assert duplicates == [0, 0]
    assert count_effects(store) == 40


def test_a_consumer_refuses_a_negative_park_after() -> None:
    with pytest.raises(ConfigurationError, match="park_after must be >= 0"):
        Consumer("bad", ("tieline.>",), record_effect("bad"), park_after=-1)
