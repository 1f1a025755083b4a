"""The SQL event log as a bus: consumers read the outbox directly.

Each consumer keeps its position in `consumer_offsets`, with a lease: one
worker at a time reads a consumer's log, so its events are handled in order.
A worker that dies keeps the lease until it runs out (`lease_seconds`); then
another takes over at the last acknowledged position, and the inbox drops
what the dead worker had already handled.
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

    def fetch(self, max_events: int, timeout: float) -> Batch | None:
        deadline = time.monotonic() + timeout
        while True:
            batch = self._try_fetch(max_events)
            if batch is not None or time.monotonic() >= deadline:
                return batch
            time.sleep(self.bus.poll_interval)

    def _try_fetch(self, max_events: int) -> Batch | None:
        with self.bus.store.transaction() as tx:
            start = self._lease(tx.connection)
            if start is None:
                return None
            entries = read_after(
                tx.connection, start, max_events, self.subscription.patterns
            )
        if not entries:
            return None
        deliveries = [Delivery(entry.event) for entry in entries]
        return _SqlBatch(self, deliveries, start, entries[-1].position)

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
            tx.connection.execute(
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
            )

    def renew(self) -> None:
        """Extend the lease while a batch is still being worked on."""
        with self.bus.store.transaction() as tx:
            self._lease(tx.connection)


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
