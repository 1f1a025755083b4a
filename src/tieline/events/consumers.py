"""Durable consumers: at-least-once delivery, effectively-once handling.

Operator's notes
----------------
A `ConsumerWorker` runs named consumers over a bus (the SQL event log or NATS
JetStream). For each consumer and each of its feeds it runs one loop thread:
fetch a batch, split it into lanes by event subject (one record, one lane),
deal the lanes into groups that run in parallel on a shared pool (one group on
SQLite, which has one writer anyway; up to `lanes` on PostgreSQL), and
acknowledge the batch once every event in it was handled, parked or
dead-lettered. Within a lane events are handled one at a time, in order.
Handling goes through the consumer's inbox (`tieline.events._inbox`), so a
redelivered event is dropped and an event older than one already handled for
its subject is recorded as stale and skipped.

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

Retries: a failed event is retried under the consumer's `RetryPolicy`. A
retry due within the consumer's `park_after` seconds (5 by default) is
waited for in the lane (other lanes go on; the worker keeps the batch alive
on the bus meanwhile: NATS `in_progress`, or a renewed lease on the SQL log).
A retry due later is parked (`tieline.events.parking`): the event, its
attempts so far and its next attempt time go to the `parked_retries` table,
with the rest of its lane behind it, and the batch is acknowledged, so one
record whose ERP call keeps failing for an hour holds up no other record.
Until the parked event is settled, every later event of its subject is
parked behind it as it arrives, in order; the worker's `parked-<consumer>`
thread retries due parked events every `parked_poll_every` seconds (and at
once after it settled one, so the events behind it follow without delay).
A parked retry claims its row (`FOR UPDATE SKIP LOCKED` on PostgreSQL), runs
the handler through the inbox and removes the row in one transaction, so
any number of workers share them and none is handled twice. Attempt counts
and the policy's age live in the row and survive a restart, except those
made in the lane before parking (a worker that dies then makes its event
start counting again: at most the few attempts that fit under `park_after`).

Giving up: a permanent error, or running out of attempts or age, writes a
dead letter with every attempt and a reason. In a lane, the lane moves on.
For a parked event, the events waiting behind it are dead-lettered with it
("held behind ... which was dead-lettered"), not released: they have not
been tried, and handling them would apply a record's later changes while an
earlier one is unresolved; released, each would also wait out the whole
policy again against the same broken system. Replay them in order (bulk
replay goes oldest first); events of the subject that arrive after the dead
letters were written are handled as usual, and the version guard then
records a replayed older change of a record as stale, so a document's status
never moves backwards (an event that carries no record version has no such
guard: it is applied when replayed, however late). `tieline deadletters parked` and
`GET /v1/parked-retries` show what is parked, per consumer.

Stopping: set the `stop` event. Lanes waiting to retry stop at once; the batch
they belonged to is not acknowledged and is served again later (the inbox drops
what was already handled; what was parked stays parked once). A worker killed
outright behaves the same way once its NATS ack wait or SQL lease runs out;
a parked retry it was running is rolled back with its connection and is due
again at once.

Log lines: `consumer.retry_scheduled` (info: consumer, event_id, attempt,
delay, error, parked, and for a newly parked event the number of events
parked behind it), `consumer.unparked` (info: consumer, event_id, outcome,
attempts), `consumer.dead_lettered` (warning: consumer, event_id, reason,
held), `consumer.unexpected_error` (error with traceback, then retried),
`consumer.store_busy` (info: the parked-retry loop met a locked or
unavailable store and waits), `consumer.loop_failed` and
`consumer.parked_loop_failed` (error with traceback; the loop waits and
goes on).

TODO: with several workers on NATS, two workers may hold batches of the same
stream at once, so two events of one subject can be handled (or parked) out
of order; the version guard still keeps a document's status from moving
backwards, but a consumer that needs strict order across workers must run in
one worker (or on the SQL log, whose lease gives one reader per consumer).
After a failed batch on NATS, newer events can also overtake the redelivered
older ones.

Within one group, the lanes that failed wait for their retries one after
the other: a second failing record waits for the first's in-lane retries
(each at most `park_after`) before its own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tieline.errors import ConfigurationError, RetryableError
from tieline.events import deadletters, parking
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
from tieline.retry import DEFAULT_RETRY, ErrorClass, RetryPolicy, Verdict
from tieline.store import Store, Transaction

log = get_logger(__name__)

Clock = Callable[[], datetime]

# Retries due within this many seconds are waited for in the lane; later
# ones are parked. A few seconds rides out a dropped connection or a lock
# without a round trip through the store, and holds a batch only briefly.
DEFAULT_PARK_AFTER = 5.0

# Parked events one poll takes on; the rest wait for the next (at once, if
# any of these was settled).
_RETRIES_PER_POLL = 100

# How much of an error an attempt keeps (an Odoo fault carries the server's
# whole traceback), and how much a log line shows.
_ERROR_KEPT = 2000
_ERROR_LOGGED = 200


def _utc_now() -> datetime:
    return datetime.now(UTC)


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

    `park_after`: a retry due within this many seconds is waited for in the
    event's lane; a later one is parked in the store, with the events of its
    subject behind it, and the consumer moves on (see the module's notes).
    """

    name: str
    patterns: tuple[str, ...]
    handler: Handler
    retry: RetryPolicy = DEFAULT_RETRY
    batch_handler: BatchHandler | None = None
    park_after: float = DEFAULT_PARK_AFTER

    def __post_init__(self) -> None:
        if self.park_after < 0:
            raise ConfigurationError(
                f"consumer {self.name}: park_after must be >= 0 seconds"
            )

    @property
    def subscription(self) -> Subscription:
        """The bus subscription of this consumer."""
        return Subscription(self.name, self.patterns)


@dataclass
class WorkerStats:
    """Counts since the worker started, by consumer and outcome."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, consumer: str, outcome: str, n: int = 1) -> None:
        """Count `n` of one outcome."""
        with self.lock:
            self.counts[(consumer, outcome)] += n

    def get(self, consumer: str, outcome: str) -> int:
        """The count of one outcome."""
        with self.lock:
            return self.counts[(consumer, outcome)]


class _Interrupted(Exception):
    """The worker was told to stop while an event waited to be retried."""


@dataclass(frozen=True, slots=True)
class _Parking:
    """An event's lane retries ended with one due too late to wait for."""

    attempts: list[deadletters.Attempt]
    delay: float
    error: BaseException


@dataclass(frozen=True, slots=True)
class _Failed:
    """A retry of a parked event failed: rescheduled, or given up on."""

    error: BaseException
    verdict: Verdict
    attempts: int
    held: int = 0


@dataclass(frozen=True, slots=True)
class _Retried:
    """What one retry of a parked event did, to report once it committed."""

    parked: parking.ParkedEvent
    result: Outcome | _Failed

    @property
    def settled(self) -> bool:
        """Whether the event left the parked retries (handled or given up on)."""
        return not isinstance(self.result, _Failed) or self.result.verdict.give_up


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
        parked_poll_every: float = 1.0,
        clock: Clock = _utc_now,
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
        self.parked_poll_every = parked_poll_every
        self.clock = clock
        self.stats = WorkerStats()
        self._pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="lane")

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the feed loops and each consumer's parked-retry loop."""
        threads = []
        for consumer in self.consumers:
            for feed in self.bus.feeds(consumer.subscription):
                threads.append(
                    _daemon(self._loop, (consumer, feed, stop), f"consume-{feed.name}")
                )
            threads.append(
                _daemon(self._parked_loop, (consumer, stop), f"parked-{consumer.name}")
            )
        return threads

    def close(self) -> None:
        """Stop the lane pool (after the loops stopped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def poll(self, consumer: Consumer, feed: Feed, stop: threading.Event) -> int:
        """Work one batch of `feed`, then the consumer's due parked retries.

        Returns how many events the batch held. For driving a worker step by
        step (tests, tools); `start` runs the two in threads of their own.
        """
        held = self._poll_feed(consumer, feed, stop)
        self.retry_parked(consumer, stop)
        return held

    def retry_parked(self, consumer: Consumer, stop: threading.Event) -> int:
        """Retry `consumer`'s due parked events; how many were handled or given up."""
        with self.store.transaction() as tx:
            ids = parking.due(
                tx.connection, consumer.name, self.clock(), _RETRIES_PER_POLL
            )
        groups = [ids[n :: self.parallel] for n in range(self.parallel)]
        futures = [
            self._pool.submit(self._retry_group, consumer, group, stop)
            for group in groups
            if group
        ]
        return sum(future.result() for future in futures)

    # -- the feed loop ----------------------------------------------------------

    def _poll_feed(self, consumer: Consumer, feed: Feed, stop: threading.Event) -> int:
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
                self._poll_feed(consumer, feed, stop)
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
        by_subject: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in batch.deliveries:
            if matches(delivery.event["type"], consumer.patterns):
                by_subject[delivery.event["subject"]].append(delivery)
        self._park_behind(consumer, by_subject)
        groups: list[list[list[Delivery]]] = [[] for _ in range(self.parallel)]
        for n, lane in enumerate(by_subject.values()):
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

    def _park_behind(
        self, consumer: Consumer, by_subject: dict[str, list[Delivery]]
    ) -> None:
        """Park the lanes of subjects that have events parked, behind those."""
        if not by_subject:
            return
        with self.store.transaction() as tx:
            held = parking.parked_subjects(tx.connection, consumer.name, [*by_subject])
            for subject in held:
                events = [delivery.event for delivery in by_subject[subject]]
                parking.park(tx.connection, consumer.name, events, now=self.clock())
        for subject in held:
            lane = by_subject.pop(subject)
            self.stats.add(consumer.name, "parked", len(lane))
            log.debug(
                "consumer.parked_behind",
                consumer=consumer.name,
                subject=subject,
                events=len(lane),
            )

    def _group(
        self, consumer: Consumer, lanes: list[list[Delivery]], stop: threading.Event
    ) -> bool:
        """Handle the lanes together; then retry, one by one, where one failed."""
        stopped = self._together(consumer, lanes)
        try:
            for n, (at, error) in stopped.items():
                self._finish_lane(consumer, lanes[n][at:], error, stop)
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

    # -- retries in the lane ------------------------------------------------------

    def _finish_lane(
        self,
        consumer: Consumer,
        rest: list[Delivery],
        error: BaseException,
        stop: threading.Event,
    ) -> None:
        """Handle the rest of a failed lane event by event, from the failed one.

        Where an event's next retry is too far off, it is parked with the
        events after it, and the lane is done.
        """
        for index, delivery in enumerate(rest):
            first_error = error if index == 0 else None
            parked = self._deliver(consumer, delivery.event, stop, first_error)
            if parked is not None:
                self._park(consumer, [d.event for d in rest[index:]], parked)
                return

    def _deliver(
        self,
        consumer: Consumer,
        event: dict[str, Any],
        stop: threading.Event,
        first_error: BaseException | None = None,
    ) -> _Parking | None:
        """Handle one event in its own transaction, retrying under the policy.

        Returns what to park when the next retry is due after `park_after`.
        """
        attempts: list[deadletters.Attempt] = []
        started, error = time.monotonic(), first_error
        while True:
            if error is None:
                try:
                    outcome = handle_once(
                        self.store, consumer.name, consumer.handler, event
                    )
                    self.stats.add(consumer.name, outcome.value)
                    return None
                except Exception as err:
                    error = err
            attempts.append(_attempt(consumer.retry, error, self.clock()))
            verdict = consumer.retry.decide(
                error, len(attempts), time.monotonic() - started
            )
            _log_failure(consumer, event, error, verdict.error_class, len(attempts))
            if verdict.give_up:
                self._dead_letter(consumer, event, attempts, verdict.reason)
                return None
            if verdict.delay > consumer.park_after:
                return _Parking(attempts, verdict.delay, error)
            _log_retry(
                consumer, event, len(attempts), verdict.delay, error, parked=False
            )
            self.stats.add(consumer.name, "retried")
            if stop.wait(verdict.delay):
                raise _Interrupted
            error = None

    def _park(
        self, consumer: Consumer, events: list[dict[str, Any]], parked: _Parking
    ) -> None:
        """Park the event and the rest of its lane; its retry is due later."""
        now = self.clock()
        with self.store.transaction() as tx:
            parking.park(
                tx.connection,
                consumer.name,
                events,
                now=now,
                attempts=[attempt.to_dict() for attempt in parked.attempts],
                retry_at=now + timedelta(seconds=parked.delay),
            )
        self.stats.add(consumer.name, "retried")
        self.stats.add(consumer.name, "parked", len(events))
        _log_retry(
            consumer,
            events[0],
            len(parked.attempts),
            parked.delay,
            parked.error,
            parked=True,
            behind=len(events) - 1,
        )

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
        _log_dead_letter(consumer, event, reason, held=0)

    # -- parked retries -------------------------------------------------------------

    def _parked_loop(self, consumer: Consumer, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            settled = 0
            try:
                settled = self.retry_parked(consumer, stop)
                failures = 0
            except RetryableError as err:
                failures += 1
                log.info("consumer.store_busy", consumer=consumer.name, error=str(err))
            except Exception:
                failures += 1
                log.exception("consumer.parked_loop_failed", consumer=consumer.name)
            if failures:
                stop.wait(min(5.0, 0.1 * 2**failures))
            elif not settled:
                # After a settled one, at once: the events behind it are due.
                stop.wait(self.parked_poll_every)

    def _retry_group(
        self, consumer: Consumer, row_ids: list[int], stop: threading.Event
    ) -> int:
        settled = 0
        for row_id in row_ids:
            if stop.is_set():
                break
            retried = self._retry_one(consumer, row_id)
            if retried is not None:
                self._report(consumer, retried)
                settled += retried.settled
        return settled

    def _retry_one(self, consumer: Consumer, row_id: int) -> _Retried | None:
        """Retry one parked event in one transaction, from claim to its fate.

        None when it is not (or no longer) due, or another worker holds it.
        """
        try:
            with self.store.transaction() as tx:
                parked = parking.claim(
                    tx.connection, consumer.name, row_id, self.clock()
                )
                if parked is None:
                    return None
                try:
                    with tx.connection.begin_nested():
                        outcome = handle_in(
                            tx, consumer.name, consumer.handler, parked.event
                        )
                except Exception as err:
                    return self._parked_failed(tx, consumer, parked, err)
                parking.release(tx.connection, [parked.id])
                return _Retried(parked, outcome)
        except Exception as err:
            # The transaction failed as a whole (say, on commit): nothing of
            # it was kept. Count the attempt in a transaction of its own.
            with self.store.transaction() as tx:
                parked = parking.claim(
                    tx.connection, consumer.name, row_id, self.clock()
                )
                if parked is None:
                    return None
                return self._parked_failed(tx, consumer, parked, err)

    def _parked_failed(
        self,
        tx: Transaction,
        consumer: Consumer,
        parked: parking.ParkedEvent,
        error: BaseException,
    ) -> _Retried:
        """Count the attempt; reschedule, or give up on it and those behind it."""
        now = self.clock()
        attempt = _attempt(consumer.retry, error, now)
        attempts = [*map(deadletters.Attempt.from_dict, parked.attempts), attempt]
        age = (now - attempts[0].at).total_seconds()
        verdict = consumer.retry.decide(error, len(attempts), age)
        held: list[parking.ParkedEvent] = []
        if verdict.give_up:
            held = parking.behind(tx.connection, parked)
            self._dead_letter_held(tx, consumer, parked, attempts, held, verdict)
            parking.release(tx.connection, [parked.id, *(h.id for h in held)])
        else:
            retry_at = now + timedelta(seconds=verdict.delay)
            parking.reschedule(
                tx.connection, parked.id, [a.to_dict() for a in attempts], retry_at
            )
        return _Retried(parked, _Failed(error, verdict, len(attempts), len(held)))

    def _dead_letter_held(
        self,
        tx: Transaction,
        consumer: Consumer,
        parked: parking.ParkedEvent,
        attempts: list[deadletters.Attempt],
        held: list[parking.ParkedEvent],
        verdict: Verdict,
    ) -> None:
        connection = tx.connection
        deadletters.record(
            connection, consumer.name, parked.event, attempts, verdict.reason
        )
        reason = (
            f"held behind event {parked.event['id']} of {parked.subject}, which "
            f"was dead-lettered: {verdict.reason}"
        )
        for follower in held:
            deadletters.record(
                connection,
                consumer.name,
                follower.event,
                [*map(deadletters.Attempt.from_dict, follower.attempts)],
                reason,
                error_type=_error_type(attempts[-1]),
            )

    def _report(self, consumer: Consumer, retried: _Retried) -> None:
        """Count and log a committed retry of a parked event."""
        event, result = retried.parked.event, retried.result
        if not isinstance(result, _Failed):
            self.stats.add(consumer.name, result.value)
            log.info(
                "consumer.unparked",
                consumer=consumer.name,
                event_id=event["id"],
                outcome=result.value,
                attempts=len(retried.parked.attempts) + 1,
            )
            return
        verdict = result.verdict
        _log_failure(
            consumer, event, result.error, verdict.error_class, result.attempts
        )
        if verdict.give_up:
            self.stats.add(consumer.name, "dead_lettered", 1 + result.held)
            _log_dead_letter(consumer, event, verdict.reason, held=result.held)
            return
        self.stats.add(consumer.name, "retried")
        _log_retry(
            consumer, event, result.attempts, verdict.delay, result.error, parked=True
        )


def _daemon(
    target: Callable[..., None], args: tuple[Any, ...], name: str
) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


def _attempt(
    policy: RetryPolicy, err: BaseException, at: datetime
) -> deadletters.Attempt:
    return deadletters.Attempt(
        at, _describe(err, _ERROR_KEPT), policy.classify(err).value
    )


def _describe(err: BaseException, limit: int) -> str:
    """The error's class and message, cut to `limit` characters."""
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_type(attempt: deadletters.Attempt) -> str:
    return attempt.error.split(":", 1)[0]


def _log_retry(
    consumer: Consumer,
    event: dict[str, Any],
    attempt: int,
    delay: float,
    error: BaseException,
    *,
    parked: bool,
    behind: int | None = None,
) -> None:
    extra = {} if behind is None else {"behind": behind}
    log.info(
        "consumer.retry_scheduled",
        consumer=consumer.name,
        event_id=event["id"],
        attempt=attempt,
        delay=round(delay, 3),
        error=_describe(error, _ERROR_LOGGED),
        parked=parked,
        **extra,
    )


def _log_dead_letter(
    consumer: Consumer, event: dict[str, Any], reason: str, *, held: int
) -> None:
    log.warning(
        "consumer.dead_lettered",
        consumer=consumer.name,
        event_id=event["id"],
        type=event["type"],
        reason=reason,
        held=held,
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


__all__ = [
    "DEFAULT_PARK_AFTER",
    "Consumer",
    "ConsumerWorker",
    "Outcome",
    "WorkerStats",
]
