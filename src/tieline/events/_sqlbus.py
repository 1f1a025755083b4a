"""The SQL event log as a bus: consumers read the outbox directly.

Each consumer keeps its position in `consumer_offsets`, with a lease: one
worker at a time reads a consumer's log, so its events are handled in order.
A worker that dies keeps the lease until it runs out (`lease_seconds`); then
another takes over at the last acknowledged position, and the inbox drops
what the dead worker had already handled.

Taking or renewing the lease writes; reading the log does not. A feed takes
the lease (and reads its position) in a write transaction, and then, while at
least half of the lease is left, reads events in read-only transactions from
the position it keeps itself: only the lease holder moves the position, and
its acknowledgement says whether it did. On SQLite those reads take no
writer lock. Before, every fetch (and every empty poll) was a write
transaction that held the one writer's lock while it parsed its events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from tieline._context import new_id
from tieline.events._log import Position, read_after
from tieline.events.bus import Batch, Delivery, Feed, Subscription
from tieline.store import Store
from tieline.store._schema import consumer_offsets


class SqlLogBus:
    """The embedded bus: the outbox table is the log, no broker involved."""

    def __init__(
        self, store: Store, *, lease_seconds: float = 30.0, poll_interval: float = 0.05
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = new_id()

    def publish(self, events: Sequence[dict[str, Any]]) -> None:
        """Nothing to do: a committed outbox row is already published."""

    def feeds(self, subscription: Subscription) -> list[Feed]:
        """One feed over the whole outbox, filtered by the subscription."""
        return [_SqlFeed(self, subscription)]

    def close(self) -> None:
        """Nothing to close: the store belongs to the caller."""


class _SqlFeed:
    def __init__(self, bus: SqlLogBus, subscription: Subscription) -> None:
        self.bus = bus
        self.subscription = subscription
        self.name = f"{subscription.consumer}@sql"
        # Where this feed stands while it holds the lease, and when (monotonic)
        # to renew the lease: after half of it has passed.
        self._position: Position | None = None
        self._renew_at = 0.0

    def fetch(self, max_events: int, timeout: float) -> Batch | None:
        deadline = time.monotonic() + timeout
        while True:
            batch = self._try_fetch(max_events)
            if batch is not None or time.monotonic() >= deadline:
                return batch
            time.sleep(self.bus.poll_interval)

    def _try_fetch(self, max_events: int) -> Batch | None:
        start = self._held_position()
        if start is None:
            return None
        with self.bus.store.read() as tx:
            entries = read_after(
                tx.connection, start, max_events, self.subscription.patterns
            )
        if not entries:
            return None
        deliveries = [Delivery(entry.event) for entry in entries]
        return _SqlBatch(self, deliveries, start, entries[-1].position)

    def _held_position(self) -> Position | None:
        """The position to read from while the lease is ours; None if not ours."""
        if self._position is not None and time.monotonic() < self._renew_at:
            return self._position
        self.renew()
        return self._position

    def _lease(self, connection: Connection) -> Position | None:
        """Take or renew the lease; the position to read from, or None if held."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.bus.lease_seconds)
        name = self.subscription.consumer
        taken = connection.execute(
            update(consumer_offsets)
            .where(
                consumer_offsets.c.consumer == name,
                or_(
                    consumer_offsets.c.lease_owner == self.bus.worker_id,
                    consumer_offsets.c.lease_owner.is_(None),
                    consumer_offsets.c.lease_until < now,
                ),
            )
            .values(lease_owner=self.bus.worker_id, lease_until=until)
        ).rowcount
        if not taken and not self._create(connection, until, now):
            return None
        row = connection.execute(
            select(consumer_offsets.c.last_txid, consumer_offsets.c.last_seq).where(
                consumer_offsets.c.consumer == name
            )
        ).one()
        return Position(row.last_txid, row.last_seq)

    def _create(self, connection: Connection, until: datetime, now: datetime) -> bool:
        exists = connection.execute(
            select(consumer_offsets.c.consumer).where(
                consumer_offsets.c.consumer == self.subscription.consumer
            )
        ).first()
        if exists is not None:
            return False
        connection.execute(
            insert(consumer_offsets).values(
                consumer=self.subscription.consumer,
                last_txid=0,
                last_seq=0,
                lease_owner=self.bus.worker_id,
                lease_until=until,
                updated_at=now,
            )
        )
        return True

    def commit(self, start: Position, end: Position) -> None:
        """Move the position from `start` to `end` if this worker still holds it."""
        with self.bus.store.transaction() as tx:
            moved = tx.connection.execute(
                update(consumer_offsets)
                .where(
                    consumer_offsets.c.consumer == self.subscription.consumer,
                    consumer_offsets.c.lease_owner == self.bus.worker_id,
                    and_(
                        consumer_offsets.c.last_txid == start.txid,
                        consumer_offsets.c.last_seq == start.seq,
                    ),
                )
                .values(
                    last_txid=end.txid, last_seq=end.seq, updated_at=datetime.now(UTC)
                )
            ).rowcount
        # Not moved: the lease was lost; the next fetch takes it again first.
        self._position = end if moved else None

    def renew(self) -> None:
        """Take or extend the lease (also while a batch is being worked on)."""
        started = time.monotonic()
        with self.bus.store.transaction() as tx:
            self._position = self._lease(tx.connection)
        self._renew_at = started + self.bus.lease_seconds / 2


class _SqlBatch:
    def __init__(
        self,
        feed: _SqlFeed,
        deliveries: list[Delivery],
        start: Position,
        end: Position,
    ) -> None:
        self.feed = feed
        self.deliveries = deliveries
        self.start = start
        self.end = end

    def keep_alive(self) -> None:
        self.feed.renew()

    def ack(self) -> None:
        self.feed.commit(self.start, self.end)
