"""Durable consumers: at-least-once delivery, effectively-once handling.

Operator's notes
----------------
A `ConsumerWorker` runs named consumers over a bus (the SQL event log or NATS
JetStream). For each consumer and each of its feeds it runs one loop thread:
fetch a batch, split it into lanes by event subject (one record, one lane),
run the lanes in parallel on a shared pool, and acknowledge the batch once
every event in it was handled or dead-lettered. Within a lane events are
handled one at a time, in order. Handling goes through the consumer's inbox
(`tieline.events._inbox`), so a redelivered event is dropped and an event older
than one already handled for its subject is recorded as stale and skipped.

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
from tieline.events._inbox import Handler, Outcome, handle_once
from tieline.events._log import matches
from tieline.events.bus import Batch, Bus, Delivery, Feed, Subscription
from tieline.logging import get_logger
from tieline.retry import DEFAULT_RETRY, ErrorClass, RetryPolicy
from tieline.store import Store

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Consumer:
    """A named, durable consumer: what it subscribes to and how it handles it.

    `handler(tx, event)` runs inside the store transaction that also records
    the event in the inbox: write its effects through `tx` so both commit
    together. A handler that calls out to another system must send a key that
    lets a retry find what the first attempt did.
    """

    name: str
    patterns: tuple[str, ...]
    handler: Handler
    retry: RetryPolicy = DEFAULT_RETRY

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
    ) -> None:
        self.store = store
        self.bus = bus
        self.consumers = list(consumers)
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.keep_alive_every = keep_alive_every
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
        """Run the batch's lanes; True when every event is done with."""
        lanes: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in batch.deliveries:
            lanes[delivery.event["subject"]].append(delivery)
        futures = [
            self._pool.submit(self._lane, consumer, lane, stop)
            for lane in lanes.values()
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

    def _lane(
        self, consumer: Consumer, lane: list[Delivery], stop: threading.Event
    ) -> bool:
        for delivery in lane:
            if not matches(delivery.event["type"], consumer.patterns):
                continue
            try:
                self._deliver(consumer, delivery.event, stop)
            except _Interrupted:
                return False
        return True

    def _deliver(
        self, consumer: Consumer, event: dict[str, Any], stop: threading.Event
    ) -> None:
        attempts: list[deadletters.Attempt] = []
        started = time.monotonic()
        while True:
            try:
                outcome = handle_once(
                    self.store, consumer.name, consumer.handler, event
                )
                self.stats.add(consumer.name, outcome.value)
                return
            except Exception as err:
                attempts.append(_attempt(consumer.retry, err))
                verdict = consumer.retry.decide(
                    err, len(attempts), time.monotonic() - started
                )
                _log_failure(consumer, event, err, verdict.error_class, len(attempts))
            if verdict.give_up:
                self._dead_letter(consumer, event, attempts, verdict.reason)
                return
            log.info(
                "consumer.retry_scheduled",
                consumer=consumer.name,
                event_id=event["id"],
                attempt=len(attempts),
                delay=round(verdict.delay, 3),
            )
            self.stats.add(consumer.name, "retried")
            if stop.wait(verdict.delay):
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
