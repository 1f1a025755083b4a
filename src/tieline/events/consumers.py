"""Durable consumers: at-least-once delivery, effectively-once handling.

Operator's notes
----------------
A `ConsumerWorker` runs named consumers over a bus (the SQL event log or NATS
JetStream). For each consumer and each of its feeds it runs one loop thread:
fetch a batch, split it into lanes by event subject (one record, one lane),
deal the lanes into groups that run in parallel on a shared pool (one group on
SQLite, which has one writer anyway; up to `lanes` on PostgreSQL), and
acknowledge the batch once every event in it was handled or dead-lettered.
Within a lane events are handled one at a time, in order. Handling goes
through the consumer's inbox (`tieline.events._inbox`), so a redelivered
event is dropped and an event older than one already handled for its subject
is recorded as stale and skipped.

Group commit: a group handles its events in as few transactions as
`max_hold` allows (a transaction takes more events until it has run that
long). One commit per event held the SQLite write lock so often that lanes
spent most of their time waiting for `BEGIN IMMEDIATE` (profiled at about 215
events/s); grouped, a commit carries hundreds. Inside the transaction, events
go in chunks of `chunk_size`. A consumer with a `batch_handler` (the webhook
fan-out) handles a chunk in one savepoint, with one inbox insert and one
call for all its events: a savepoint and an inbox insert per event took
about a third of the worker's time in the webhook pipeline's profile. When
anything in such a chunk raises, the chunk rolls back to its savepoint and
is done again one event per savepoint, as every chunk of a consumer without
a batch handler is: an event whose handler raises rolls back alone, and its
lane stops there and continues, one event per transaction, on the retry
path below. If a grouped transaction fails as a whole (say, on commit), its
lanes go that way too; the inbox drops anything that had in fact been
handled.

A failed event is retried in its lane under the consumer's `RetryPolicy`
(other lanes go on); a permanent error, or running out of attempts or age,
writes a dead letter with every attempt and a reason, and the lane moves on.
While a lane waits to retry, the worker keeps the batch alive on the bus
(NATS `in_progress`, or a renewed lease on the SQL log).

Stopping: set the `stop` event. Lanes waiting to retry stop at once; the batch
they belonged to is not acknowledged and is served again later (the inbox drops
what was already handled). A worker killed outright behaves the same way once
its NATS ack wait or SQL lease runs out.

Log lines: `consumer.retry_scheduled` (info: consumer, event_id, attempt,
delay), `consumer.dead_lettered` (warning: consumer, event_id, reason),
`consumer.unexpected_error` (error with traceback, then retried),
`consumer.loop_failed` (error with traceback; the loop waits and goes on).

TODO: with several workers on NATS, two workers may hold batches of the same
stream at once, so two events of one subject can be handled out of order;
the version guard still keeps a document's status from moving backwards, but
a consumer that needs strict order across workers must run in one worker (or
on the SQL log, whose lease gives one reader per consumer). After a failed
batch on NATS, newer events can also overtake the redelivered older ones.

TODO: the lanes of one group that failed wait for their retries one after the
other; a group with two failing records retries the second only after the
first's retries ended (other groups, and the group's healthy lanes, go on).

TODO: attempt counts live in the worker's memory: a worker that dies while an
event waits to retry starts that event's count again elsewhere, so a failing
event can take up to twice its policy's attempts before its dead letter.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tieline.errors import RetryableError
from tieline.events import deadletters
from tieline.events._inbox import (
    BatchHandler,
    Handler,
    Outcome,
    handle_in,
    handle_many_in,
    handle_once,
)
from tieline.events._log import matches
from tieline.events.bus import Batch, Bus, Delivery, Feed, Subscription
from tieline.logging import get_logger
from tieline.retry import DEFAULT_RETRY, ErrorClass, RetryPolicy
from tieline.store import Store, Transaction

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Consumer:
    """A named, durable consumer: what it subscribes to and how it handles it.

    `handler(tx, event)` runs inside the store transaction that also records
    the event in the inbox: write its effects through `tx` so both commit
    together. A handler that calls out to another system must send a key that
    lets a retry find what the first attempt did.

    `batch_handler(tx, events)`, when given, must do what `handler` on each
    event in order would, in fewer statements (say, one read of settings and
    one insert for all); the worker uses it for group commits, and `handler`
    for retries and replays. When it raises, its chunk is rolled back and
    handled again event by event, so it must only write through `tx` (never
    call out to another system). It runs without a unit of work per event,
    so a batch handler whose effects write events must bind one itself.
    Without it, each event of a group gets a savepoint of its own and
    `handler` runs exactly once per attempt.
    """

    name: str
    patterns: tuple[str, ...]
    handler: Handler
    retry: RetryPolicy = DEFAULT_RETRY
    batch_handler: BatchHandler | None = None

    @property
    def subscription(self) -> Subscription:
        """The bus subscription of this consumer."""
        return Subscription(self.name, self.patterns)


@dataclass
class WorkerStats:
    """Counts since the worker started, by consumer and outcome."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, consumer: str, outcome: str) -> None:
        """Count one outcome."""
        with self.lock:
            self.counts[(consumer, outcome)] += 1

    def get(self, consumer: str, outcome: str) -> int:
        """The count of one outcome."""
        with self.lock:
            return self.counts[(consumer, outcome)]


class _Interrupted(Exception):
    """The worker was told to stop while an event waited to be retried."""


class ConsumerWorker:
    """Runs consumers over a bus until told to stop."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        consumers: Sequence[Consumer],
        *,
        lanes: int = 8,
        batch_size: int = 200,
        fetch_timeout: float = 1.0,
        keep_alive_every: float = 5.0,
        max_hold: float = 0.05,
        chunk_size: int = 100,
        parallel: int | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.consumers = list(consumers)
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.keep_alive_every = keep_alive_every
        self.max_hold = max_hold
        self.chunk_size = chunk_size
        sqlite = store.engine.dialect.name == "sqlite"
        self.parallel = parallel or (1 if sqlite else lanes)
        self.stats = WorkerStats()
        self._pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="lane")

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start one loop thread per consumer feed; returns the threads."""
        threads = []
        for consumer in self.consumers:
            for feed in self.bus.feeds(consumer.subscription):
                thread = threading.Thread(
                    target=self._loop,
                    args=(consumer, feed, stop),
                    name=f"consume-{feed.name}",
                    daemon=True,
                )
                thread.start()
                threads.append(thread)
        return threads

    def close(self) -> None:
        """Stop the lane pool (after the loops stopped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def poll(self, consumer: Consumer, feed: Feed, stop: threading.Event) -> int:
        """Fetch and work one batch of `feed`; returns how many events it held."""
        batch = feed.fetch(self.batch_size, self.fetch_timeout)
        if batch is None:
            return 0
        if self._work(consumer, batch, stop):
            batch.ack()
        return len(batch.deliveries)

    def _loop(self, consumer: Consumer, feed: Feed, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self.poll(consumer, feed, stop)
                failures = 0
            except RetryableError as err:
                failures += 1
                log.info("consumer.bus_unavailable", feed=feed.name, error=str(err))
            except Exception:
                failures += 1
                log.exception("consumer.loop_failed", feed=feed.name)
            if failures:
                stop.wait(min(5.0, 0.1 * 2**failures))

    def _work(self, consumer: Consumer, batch: Batch, stop: threading.Event) -> bool:
        """Run the batch's lane groups; True when every event is done with."""
        lanes: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in batch.deliveries:
            if matches(delivery.event["type"], consumer.patterns):
                lanes[delivery.event["subject"]].append(delivery)
        groups: list[list[list[Delivery]]] = [[] for _ in range(self.parallel)]
        for n, lane in enumerate(lanes.values()):
            groups[n % self.parallel].append(lane)
        futures = [
            self._pool.submit(self._group, consumer, group, stop)
            for group in groups
            if group
        ]
        pending: set[Future[bool]] = set(futures)
        while pending:
            done, pending = wait(
                pending, timeout=self.keep_alive_every, return_when=FIRST_EXCEPTION
            )
            if pending and not any(f.exception() for f in done):
                batch.keep_alive()
            elif pending:
                break
        # A lane that raised (say, the database went away while writing a dead
        # letter) leaves the batch unacknowledged: the bus serves it again.
        wait(futures)
        return all(f.result() for f in futures)

    def _group(
        self, consumer: Consumer, lanes: list[list[Delivery]], stop: threading.Event
    ) -> bool:
        """Handle the lanes together; then retry, one by one, where one failed."""
        stopped = self._together(consumer, lanes)
        try:
            for n, (at, error) in stopped.items():
                rest = lanes[n][at:]
                self._deliver(consumer, rest[0].event, stop, first_error=error)
                for delivery in rest[1:]:
                    self._deliver(consumer, delivery.event, stop)
        except _Interrupted:
            return False
        return True

    def _together(
        self, consumer: Consumer, lanes: list[list[Delivery]]
    ) -> dict[int, tuple[int, BaseException]]:
        """Group-commit the lanes' events; returns where each failed lane stopped."""
        queue = [(n, i, d) for n, lane in enumerate(lanes) for i, d in enumerate(lane)]
        stopped: dict[int, tuple[int, BaseException]] = {}
        start = 0
        while start < len(queue):
            end, outcomes = start, []
            try:
                with self.store.transaction() as tx:
                    deadline = time.monotonic() + self.max_hold
                    while end < len(queue) and (
                        end == start or time.monotonic() < deadline
                    ):
                        chunk = queue[end : end + self.chunk_size]
                        end += len(chunk)
                        outcomes += self._chunk(tx, consumer, chunk, stopped)
            except Exception as err:
                # The transaction failed as a whole: nothing in it was kept.
                for n, i, _ in queue[start:end]:
                    stopped.setdefault(n, (i, err))
                outcomes = []
            for outcome in outcomes:
                self.stats.add(consumer.name, outcome.value)
            start = end
        return stopped

    def _chunk(
        self,
        tx: Transaction,
        consumer: Consumer,
        chunk: list[tuple[int, int, Delivery]],
        stopped: dict[int, tuple[int, BaseException]],
    ) -> list[Outcome]:
        """Handle a chunk in one savepoint; one event per savepoint if it fails."""
        live = [(n, i, d) for n, i, d in chunk if n not in stopped]
        batch_handler = consumer.batch_handler
        if batch_handler is not None and live:
            events = [delivery.event for _, _, delivery in live]
            try:
                with tx.connection.begin_nested():
                    return handle_many_in(
                        tx, consumer.name, consumer.handler, events, batch_handler
                    )
            except Exception as err:
                # Which event failed is unknown here; event by event, the
                # failure stops its own lane only and takes the retry path.
                log.debug(
                    "consumer.chunk_failed", consumer=consumer.name, error=repr(err)
                )
        outcomes = []
        for n, i, delivery in live:
            if n in stopped:
                continue
            outcome = self._in_savepoint(tx, consumer, delivery, n, i)
            if isinstance(outcome, Outcome):
                outcomes.append(outcome)
            else:
                stopped[n] = outcome
        return outcomes

    def _in_savepoint(
        self,
        tx: Transaction,
        consumer: Consumer,
        delivery: Delivery,
        lane: int,
        index: int,
    ) -> Outcome | tuple[int, BaseException]:
        """Handle one event in a savepoint; its outcome, or where its lane stops."""
        try:
            with tx.connection.begin_nested():
                return handle_in(tx, consumer.name, consumer.handler, delivery.event)
        except Exception as err:
            return (index, err)

    def _deliver(
        self,
        consumer: Consumer,
        event: dict[str, Any],
        stop: threading.Event,
        first_error: BaseException | None = None,
    ) -> None:
        """Handle one event in its own transaction, retrying under the policy."""
        attempts: list[deadletters.Attempt] = []
        started, error = time.monotonic(), first_error
        while True:
            if error is None:
                try:
                    outcome = handle_once(
                        self.store, consumer.name, consumer.handler, event
                    )
                    self.stats.add(consumer.name, outcome.value)
                    return
                except Exception as err:
                    error = err
            attempts.append(_attempt(consumer.retry, error))
            verdict = consumer.retry.decide(
                error, len(attempts), time.monotonic() - started
            )
            _log_failure(consumer, event, error, verdict.error_class, len(attempts))
            error = None
            if verdict.give_up:
                self._dead_letter(consumer, event, attempts, verdict.reason)
                return
            self._wait_to_retry(consumer, event, len(attempts), verdict.delay, stop)

    def _wait_to_retry(
        self,
        consumer: Consumer,
        event: dict[str, Any],
        attempt: int,
        delay: float,
        stop: threading.Event,
    ) -> None:
        log.info(
            "consumer.retry_scheduled",
            consumer=consumer.name,
            event_id=event["id"],
            attempt=attempt,
            delay=round(delay, 3),
        )
        self.stats.add(consumer.name, "retried")
        if stop.wait(delay):
            raise _Interrupted

    def _dead_letter(
        self,
        consumer: Consumer,
        event: dict[str, Any],
        attempts: list[deadletters.Attempt],
        reason: str,
    ) -> None:
        with self.store.transaction() as tx:
            deadletters.record(tx.connection, consumer.name, event, attempts, reason)
        self.stats.add(consumer.name, "dead_lettered")
        log.warning(
            "consumer.dead_lettered",
            consumer=consumer.name,
            event_id=event["id"],
            type=event["type"],
            reason=reason,
        )


def _attempt(policy: RetryPolicy, err: BaseException) -> deadletters.Attempt:
    return deadletters.Attempt(
        datetime.now(UTC), f"{type(err).__name__}: {err}", policy.classify(err).value
    )


def _log_failure(
    consumer: Consumer,
    event: dict[str, Any],
    err: BaseException,
    error_class: ErrorClass,
    attempt: int,
) -> None:
    if error_class is ErrorClass.UNEXPECTED:
        log.error(
            "consumer.unexpected_error",
            consumer=consumer.name,
            event_id=event["id"],
            attempt=attempt,
            exc_info=err,
        )


__all__ = ["Consumer", "ConsumerWorker", "Outcome", "WorkerStats"]
