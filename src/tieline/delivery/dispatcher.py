"""The webhook dispatcher: sends queued messages, signed, on their schedule.

Operator's notes
----------------
The dispatcher runs in processes with the `dispatcher` role (`tieline serve
--role dispatcher`, or a child process of `--role all`; see
`tieline.delivery._roles`). It loops in cycles, one transaction each: write
the outcomes of the attempts that finished since the last cycle (the attempt
log row: status, latency, response excerpt or error; and the message's new
state), then claim due messages from `webhook_messages` for the room left
(a lease, so two dispatchers never send the same message at once; `FOR
UPDATE SKIP LOCKED` on PostgreSQL), and send each with aiohttp.

Outcomes: a 2xx is `delivered`. Anything else (another status, a timeout, a
refused or dropped connection) is a failed attempt, retried on the
`RetrySchedule` with the same `webhook-id`; after the last attempt the message
is `failed` and waits for a person (`resend`, or `recover` on its endpoint;
`tieline webhooks ...` or the API's webhook message routes show every attempt).
An endpoint that has been failing without a single success for
`disable_after` seconds (default a day) when one of its messages fails for
good is disabled, and the event `tieline.webhook_endpoint.disabled` is written
in the same transaction. While a destination's circuit breaker is open its
messages wait (their due time moves to the breaker's next probe) without
spending an attempt; a destination's rate limit makes requests wait their turn.

A dispatcher killed mid-flight leaves its claimed messages leased until
`lease_seconds` pass; then any dispatcher sends them again, with the same
`webhook-id`, so a receiver that de-duplicates sees each message once.

Log lines: `webhook.delivered` (debug), `webhook.retry_scheduled` (info:
message_id, attempt, delay, error), `webhook.failed` (warning: message_id,
attempts, error), `webhook.endpoint_disabled` (warning), `breaker.state_changed`,
`dispatcher.cycle_failed` (error with traceback; the outcomes are kept and
written by a later cycle, nothing is dropped).

TODO: breakers and rate limits live in each dispatcher's memory: with N
dispatcher processes a destination sees up to N times its rate limit, and each
process must count its own run of failures before its breaker opens.

TODO: messages of one endpoint are sent in parallel, so a receiver may get
them out of order (Standard Webhooks promises no order); a receiver that needs
order must compare the event's `time` or the record's `version`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import aiohttp
import uvloop
from sqlalchemy import Connection, bindparam, insert, or_, select, update

from tieline._context import new_id
from tieline.delivery.endpoints import (
    DELIVERED,
    ENABLED,
    FAILED,
    HELD,
    PENDING,
    destination,
    disable_in,
    secrets_in_force,
)
from tieline.delivery.protection import BreakerPolicy, CircuitBreaker, TokenBucket
from tieline.delivery.schedule import DEFAULT_SCHEDULE, RetrySchedule
from tieline.delivery.signing import sign_headers
from tieline.logging import get_logger
from tieline.store import Store, Transaction
from tieline.store._delivery_schema import (
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
)

log = get_logger(__name__)

EXCERPT_BYTES = 512
DISABLED_EVENT = "tieline.webhook_endpoint.disabled"
_M = webhook_messages.c


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message this dispatcher holds the lease on, with what sending needs."""

    id: int
    message_id: str
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    payload: str
    attempts: int
    rate_limit: float | None

    @property
    def destination(self) -> str:
        """The host the breaker and the rate limit key on."""
        return _destination(self.url)


@dataclass(frozen=True, slots=True)
class Result:
    """One attempt's outcome, or a deferral (`defer_for`) that made no request."""

    message: Claimed
    started_at: datetime
    latency_ms: float = 0.0
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None
    defer_for: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the receiver took the message (a 2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def blames_destination(self) -> bool:
        """Whether the failure counts against the destination's breaker."""
        code = self.status_code
        return code is None or code >= 500 or code == 429


class WebhookDispatcher:
    """Claims due webhook messages, sends them and records every attempt."""

    def __init__(
        self,
        store: Store,
        *,
        schedule: RetrySchedule = DEFAULT_SCHEDULE,
        breaker: BreakerPolicy | None = None,
        timeout: float = 10.0,
        max_in_flight: int = 64,
        poll_interval: float = 0.05,
        flush_interval: float = 0.02,
        lease_seconds: float = 300.0,
        disable_after: float = 86400.0,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.schedule = schedule
        self.breaker_policy = breaker or BreakerPolicy()
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.flush_interval = flush_interval
        self.lease_seconds = lease_seconds
        self.disable_after = disable_after
        self.worker_id = worker_id or new_id()
        self.stats: Counter[str] = Counter()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._results: list[Result] = []
        self._results_since = 0.0  # when the oldest of `_results` came in

    # -- running ----------------------------------------------------------------

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run the dispatcher in a daemon thread until `stop` is set."""
        thread = threading.Thread(
            target=self.run, args=(stop,), name="webhook-dispatcher", daemon=True
        )
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (blocking), then finish what is in flight."""
        # uvloop: the event loop's own work (sockets, callbacks, timers) was
        # about an eighth of the pipeline benchmark's time on asyncio's loop.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._main(stop))

    async def _main(self, stop: threading.Event) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_in_flight)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await _Loop(self, http).run(stop)

    async def _attempt_and_keep(
        self, http: aiohttp.ClientSession, message: Claimed
    ) -> None:
        result = await self._attempt(http, message)
        if not self._results:
            self._results_since = time.monotonic()
        self._results.append(result)

    def _results_due(self, now: float) -> bool:
        """Whether the outcomes waiting are many, or waited `flush_interval`."""
        return len(self._results) >= self.max_in_flight or (
            bool(self._results) and now - self._results_since >= self.flush_interval
        )

    def _take_results(self) -> list[Result]:
        batch, self._results = self._results, []
        return batch

    def _put_back(self, batch: list[Result]) -> None:
        self._results = batch + self._results

    # -- claiming and recording -------------------------------------------------

    def cycle(
        self, results: list[Result], limit: int, *, release: Sequence[int] = ()
    ) -> list[Claimed]:
        """Write `results` and lease up to `limit` due messages, in one transaction.

        One transaction instead of two (a record, then a claim) halves the
        dispatcher's commits; on SQLite each commit waits for the one writer.
        `release` gives back the leases of claimed messages never sent.
        """
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            if results:
                _Recorder(tx, now, self).write(results)
            if release:
                tx.connection.execute(
                    update(webhook_messages)
                    .where(_M.id.in_(release), _M.lease_owner == self.worker_id)
                    .values(lease_owner=None, lease_until=None)
                )
            return self._claim_in(tx.connection, limit, now) if limit > 0 else []

    # -- claiming and recording -------------------------------------------------

    def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due messages of enabled endpoints."""
        return self.cycle([], limit)

    def _claim_in(
        self, connection: Connection, limit: int, now: datetime
    ) -> list[Claimed]:
        rows = self._lease(connection, limit, now)
        if not rows:
            return []
        endpoints = _endpoint_rows(connection, {r.endpoint_id for r in rows})
        signing = {
            endpoint_id: tuple(secrets_in_force(endpoint, now))
            for endpoint_id, endpoint in endpoints.items()
        }
        claimed, held = [], []
        for row in rows:
            endpoint = endpoints.get(row.endpoint_id)
            if endpoint is None or endpoint["status"] != ENABLED:
                held.append(row.id)
                continue
            claimed.append(_claimed(row, endpoint, signing[row.endpoint_id]))
        if held:
            connection.execute(
                update(webhook_messages)
                .where(_M.id.in_(held))
                .values(status=HELD, lease_owner=None, lease_until=None)
            )
        return claimed

    def _lease(self, connection: Connection, limit: int, now: datetime) -> list[Any]:
        due = (
            select(_M.id)
            .where(
                _M.status == PENDING,
                _M.next_attempt_at <= now,
                or_(_M.lease_until.is_(None), _M.lease_until < now),
            )
            .order_by(_M.next_attempt_at, _M.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        leased = (
            update(webhook_messages)
            .where(_M.id.in_(due.scalar_subquery()))
            .values(
                lease_owner=self.worker_id,
                lease_until=now + timedelta(seconds=self.lease_seconds),
            )
            .returning(_M.id, _M.message_id, _M.endpoint_id, _M.payload, _M.attempts)
        )
        return list(connection.execute(leased).all())

    # -- sending ------------------------------------------------------------------

    async def _attempt(self, http: aiohttp.ClientSession, message: Claimed) -> Result:
        breaker = self._breaker(message.destination)
        if not breaker.allow():
            return Result(message, datetime.now(UTC), defer_for=breaker.wait_for())
        if message.rate_limit is not None:
            wait = self._bucket(message).take()
            if wait > 0:
                await asyncio.sleep(wait)
        result = await self.send(http, message)
        if result.ok or not result.blames_destination:
            breaker.succeeded()
        else:
            breaker.failed()
        return result

    async def send(self, http: aiohttp.ClientSession, message: Claimed) -> Result:
        """POST the message once, signed now; never raises for a failed request."""
        headers = sign_headers(message.secrets, message.message_id, message.payload)
        headers["content-type"] = "application/json"
        headers["user-agent"] = "tieline-webhooks"
        started_at, start = datetime.now(UTC), time.perf_counter()
        try:
            async with http.post(
                message.url, data=message.payload.encode(), headers=headers
            ) as response:
                excerpt = await response.content.read(EXCERPT_BYTES)
                return Result(
                    message,
                    started_at,
                    _ms(start),
                    response.status,
                    None if 200 <= response.status < 300 else f"HTTP {response.status}",
                    excerpt.decode("utf-8", errors="replace"),
                    _retry_after(response.headers.get("retry-after")),
                )
        except TimeoutError:
            error = f"no answer within {self.timeout:g}s"
        except (aiohttp.ClientError, OSError) as err:
            error = f"{type(err).__name__}: {err}"
        return Result(message, started_at, _ms(start), error=error)

    def _breaker(self, name: str) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = CircuitBreaker(name, self.breaker_policy)
        return breaker

    def _bucket(self, message: Claimed) -> TokenBucket:
        bucket = self._buckets.get(message.destination)
        if bucket is None or bucket.rate != message.rate_limit:
            assert message.rate_limit is not None
            bucket = self._buckets[message.destination] = TokenBucket(
                message.rate_limit
            )
        return bucket

    def record(self, results: list[Result]) -> None:
        """Write the outcomes of `results` in one transaction."""
        self.cycle(results, 0)


class _Loop:
    """The dispatcher's event loop: sends while a cycle records and claims.

    Claimed messages wait in `ready` until a sending slot is free; a cycle
    (record what finished, claim more) runs in a thread beside the sends and
    tops `ready` up to `max_in_flight`, so sending never stops while a cycle
    waits for the database (on SQLite, for the one writer). Profiled with the
    dispatcher in its own process, a cycle that claimed only when a slot was
    free left the slots empty while it waited for the consumer's commits.
    """

    def __init__(self, owner: WebhookDispatcher, http: aiohttp.ClientSession):
        self.owner = owner
        self.http = http
        self.in_flight: set[asyncio.Task[None]] = set()
        self.ready: deque[Claimed] = deque()
        self.cycling: asyncio.Task[None] | None = None
        self.claim_after = 0.0  # monotonic time; nothing was due before it

    async def run(self, stop: threading.Event) -> None:
        """Send and cycle until `stop`; then finish, record, and release."""
        while not stop.is_set():
            self._start_sends()
            if self.cycling is None and self._cycle_due():
                self.cycling = asyncio.create_task(self._cycle())
            await self._wait()
        if self.cycling is not None:
            await self.cycling
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=self.owner.timeout + 1)
        await self._last_cycle()

    def _start_sends(self) -> None:
        room = self.owner.max_in_flight - len(self.in_flight)
        for _ in range(min(room, len(self.ready))):
            message = self.ready.popleft()
            task = asyncio.create_task(self.owner._attempt_and_keep(self.http, message))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    def _cycle_due(self) -> bool:
        now = time.monotonic()
        if len(self.ready) < self.owner.max_in_flight and now >= self.claim_after:
            return True
        # Nothing to claim: record once answers waited long enough, or many.
        return self.owner._results_due(now)

    async def _wait(self) -> None:
        """Until a send or the cycle ends, a flush or claim is due, or a tick."""
        now = time.monotonic()
        timeout = self.owner.poll_interval  # also how often `stop` is seen
        if self.cycling is None:
            if self.owner._results:
                flush_at = self.owner._results_since + self.owner.flush_interval
                timeout = min(timeout, flush_at - now)
            if self.claim_after > now:
                timeout = min(timeout, self.claim_after - now)
        waiting: set[asyncio.Task[None]] = set(self.in_flight)
        if self.cycling is not None:
            waiting.add(self.cycling)
        if waiting:
            await asyncio.wait(
                waiting, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED
            )
        else:
            await asyncio.sleep(max(timeout, 0.0))

    async def _cycle(self) -> None:
        owner = self.owner
        want = owner.max_in_flight - len(self.ready)
        if time.monotonic() < self.claim_after:
            want = 0
        batch = owner._take_results()
        try:
            claimed = await asyncio.to_thread(owner.cycle, batch, want)
        except Exception:
            log.exception("dispatcher.cycle_failed", recorded=len(batch))
            owner._put_back(batch)
            self.claim_after = time.monotonic() + 1.0
        else:
            self.ready.extend(claimed)
            if want and len(claimed) < want:
                # All that is due was claimed: look again after the interval.
                self.claim_after = time.monotonic() + owner.poll_interval
        finally:
            self.cycling = None

    async def _last_cycle(self) -> None:
        """Record every outcome and give back what was claimed but not sent."""
        release = [message.id for message in self.ready]
        for _ in range(3):
            batch = self.owner._take_results()
            try:
                await asyncio.to_thread(self.owner.cycle, batch, 0, release=release)
                return
            except Exception:
                log.exception("dispatcher.cycle_failed", recorded=len(batch))
                self.owner._put_back(batch)
                await asyncio.sleep(1.0)


class _Recorder:
    """Turns a group of results into attempt rows and message states."""

    def __init__(self, tx: Transaction, now: datetime, owner: WebhookDispatcher):
        self.tx = tx
        self.connection = tx.connection
        self.now = now
        self.owner = owner

    def write(self, results: list[Result]) -> None:
        attempts = [r for r in results if r.defer_for is None]
        deferred = [r for r in results if r.defer_for is not None]
        if attempts:
            self.connection.execute(
                insert(webhook_attempts), [self._attempt_row(r) for r in attempts]
            )
        delivered = [r for r in attempts if r.ok]
        failed = [r for r in attempts if not r.ok]
        self._delivered(delivered)
        exhausted = self._failed(failed)
        self._deferred(deferred)
        self._endpoint_health(delivered, failed)
        for endpoint_id in sorted({r.message.endpoint_id for r in exhausted}):
            self._maybe_disable(endpoint_id)
        self.owner.stats.update(
            delivered=len(delivered),
            failed_attempts=len(failed),
            gave_up=len(exhausted),
        )

    def _attempt_row(self, result: Result) -> dict[str, Any]:
        return {
            "message_id": result.message.message_id,
            "endpoint_id": result.message.endpoint_id,
            "attempt": result.message.attempts + 1,
            "started_at": result.started_at,
            "status_code": result.status_code,
            "latency_ms": round(result.latency_ms, 3),
            "outcome": "delivered" if result.ok else "failed",
            "error": result.error,
            "response_excerpt": result.excerpt,
        }

    def _delivered(self, results: list[Result]) -> None:
        if not results:
            return
        # One statement per attempt count (nearly always one: first tries),
        # not one parameter set per message: SQLAlchemy's work per parameter
        # set was about a quarter of a cycle's CPU.
        by_attempts: dict[int, list[int]] = {}
        for r in results:
            by_attempts.setdefault(r.message.attempts + 1, []).append(r.message.id)
        for attempts, ids in by_attempts.items():
            self.connection.execute(
                _MARK_DELIVERED,
                {"b_ids": ids, "b_attempts": attempts, "b_now": self.now},
            )
        if logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
            # Checked once: a filtered debug call per message still cost
            # about a tenth of a cycle's CPU.
            for r in results:
                log.debug("webhook.delivered", message_id=r.message.message_id)

    def _failed(self, results: list[Result]) -> list[Result]:
        """Schedule retries; returns the results whose schedule is spent."""
        retries, exhausted = [], []
        for r in results:
            attempt = r.message.attempts + 1
            delay = self.owner.schedule.delay_after(attempt, r.retry_after)
            if delay is None:
                exhausted.append(r)
                log.warning(
                    "webhook.failed",
                    message_id=r.message.message_id,
                    attempts=attempt,
                    error=r.error,
                )
                continue
            retries.append(
                {
                    "b_id": r.message.id,
                    "b_attempts": attempt,
                    "b_status": PENDING,
                    "b_due": self.now + timedelta(seconds=delay),
                    "b_error": r.error,
                }
            )
            log.info(
                "webhook.retry_scheduled",
                message_id=r.message.message_id,
                attempt=attempt,
                delay=round(delay, 3),
                error=r.error,
            )
        retries += [
            {
                "b_id": r.message.id,
                "b_attempts": r.message.attempts + 1,
                "b_status": FAILED,
                "b_due": self.now,
                "b_error": r.error,
            }
            for r in exhausted
        ]
        if retries:
            self.connection.execute(_MARK_FAILED, retries)
        return exhausted

    def _deferred(self, results: list[Result]) -> None:
        if results:
            self.connection.execute(
                _DEFER,
                [
                    {
                        "b_id": r.message.id,
                        "b_due": self.now + timedelta(seconds=r.defer_for or 0.0),
                    }
                    for r in results
                ],
            )

    def _endpoint_health(self, delivered: list[Result], failed: list[Result]) -> None:
        healthy = {r.message.endpoint_id for r in delivered}
        failing = {r.message.endpoint_id for r in failed} - healthy
        e = webhook_endpoints.c
        if healthy:
            self.connection.execute(
                update(webhook_endpoints)
                .where(e.id.in_(healthy), e.failing_since.is_not(None))
                .values(failing_since=None)
            )
        if failing:
            self.connection.execute(
                update(webhook_endpoints)
                .where(e.id.in_(failing), e.failing_since.is_(None))
                .values(failing_since=self.now)
            )

    def _maybe_disable(self, endpoint_id: str) -> None:
        e = webhook_endpoints.c
        row = self.connection.execute(
            select(e.status, e.failing_since, e.url).where(e.id == endpoint_id)
        ).first()
        if row is None or row.status != ENABLED or row.failing_since is None:
            return
        since = row.failing_since
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        failing_for = (self.now - since).total_seconds()
        if failing_for < self.owner.disable_after:
            return
        reason = (
            f"no successful delivery for {failing_for:.0f}s and a message "
            f"failed all {self.owner.schedule.max_attempts} attempts"
        )
        disable_in(self.connection, endpoint_id, reason)
        self.tx.emit(
            DISABLED_EVENT,
            f"webhook_endpoint/{endpoint_id}",
            {
                "endpoint_id": endpoint_id,
                "host": destination(row.url),
                "reason": reason,
            },
        )
        log.warning("webhook.endpoint_disabled", endpoint_id=endpoint_id, reason=reason)


_MARK_DELIVERED = (
    update(webhook_messages)
    .where(_M.id.in_(bindparam("b_ids", expanding=True)))
    .values(
        status=DELIVERED,
        attempts=bindparam("b_attempts"),
        delivered_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )
)
_MARK_FAILED = (
    update(webhook_messages)
    .where(_M.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_due"),
        last_error=bindparam("b_error"),
        lease_owner=None,
        lease_until=None,
    )
)
_DEFER = (
    update(webhook_messages)
    .where(_M.id == bindparam("b_id"), _M.status == PENDING)
    .values(next_attempt_at=bindparam("b_due"), lease_owner=None, lease_until=None)
)


def _endpoint_rows(connection: Connection, ids: set[str]) -> dict[str, Any]:
    rows = connection.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.id.in_(ids))
    ).all()
    return {row.id: row._mapping for row in rows}


def _claimed(row: Any, endpoint: Any, secrets: tuple[str, ...]) -> Claimed:
    return Claimed(
        id=row.id,
        message_id=row.message_id,
        endpoint_id=row.endpoint_id,
        url=endpoint["url"],
        secrets=secrets,
        payload=row.payload,
        attempts=row.attempts,
        rate_limit=endpoint["rate_limit"],
    )


@lru_cache(maxsize=1024)
def _destination(url: str) -> str:
    # Parsed once per endpoint URL, not once per message.
    return destination(url)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header given in seconds (dates are ignored)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def release_leases(store: Store, worker_id: str) -> int:
    """Free the messages a dead dispatcher `worker_id` had claimed; how many.

    Only for a dispatcher known to be dead (a child process that exited):
    its claims would otherwise wait out their leases (five minutes) before
    another dispatcher sends them, with the same `webhook-id`.
    """
    with store.transaction() as tx:
        freed = tx.connection.execute(
            update(webhook_messages)
            .where(_M.lease_owner == worker_id, _M.status == PENDING)
            .values(lease_owner=None, lease_until=None)
        )
    return int(freed.rowcount or 0)
