"""The outbox relay: reads committed outbox events in order and hands them on.

Operator's notes
----------------
The relay runs inside `tieline serve` (roles `relay` and `all`) when a bus
other than the SQL event log is configured (`TIELINE_BUS_URL=nats://...`); on
the SQL event log, consumers read the outbox directly and no relay is needed.
It keeps one position per relay name in `relay_offsets`: the (transaction id,
seq) of the last event it handed on (see `tieline.events._log` for why the
transaction id). On restart it continues after that position, so an event is
handed on at least once; NATS de-duplicates by event id (`Nats-Msg-Id`) and
consumers de-duplicate again through their inbox.

The relay reads a batch in one short transaction, hands it to the sink outside
any transaction (so a slow broker never holds a database lock), then moves its
position in a second transaction, only forward. Two relays with the same name
may publish a batch twice; nothing is lost and the bus drops the repeat.

Log lines: `relay.published` (info, per batch, with `count` and `last_seq`),
`relay.failed` (error, with traceback; the relay sleeps and retries the same
batch, nothing is skipped).

Settings: `TIELINE_RELAY_INTERVAL`, seconds to sleep when the outbox is empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from tieline.events._log import Position, read_after
from tieline.logging import get_logger
from tieline.store import Store
from tieline.store._schema import relay_offsets

log = get_logger(__name__)

Sink = Callable[[Sequence[dict[str, Any]]], None]


def _log_sink(events: Sequence[dict[str, Any]]) -> None:
    for event in events:
        log.debug("relay.event", event_id=event["id"], type=event["type"])


class OutboxRelay:
    """Moves outbox events, in log order, to a sink, remembering its place."""

    def __init__(
        self,
        store: Store,
        *,
        name: str = "default",
        sink: Sink = _log_sink,
        batch_size: int = 500,
    ) -> None:
        self.store = store
        self.name = name
        self.sink = sink
        self.batch_size = batch_size

    def run_once(self) -> int:
        """Hand on one batch; returns how many events it handed on."""
        with self.store.transaction() as tx:
            offset = self._offset(tx.connection)
            entries = read_after(tx.connection, offset, self.batch_size)
        if not entries:
            return 0
        self.sink([entry.event for entry in entries])
        last = entries[-1].position
        with self.store.transaction() as tx:
            self._advance(tx.connection, last)
        log.info("relay.published", count=len(entries), last_seq=last.seq)
        return len(entries)

    def drain(self) -> int:
        """Hand on everything waiting; returns the total."""
        total = 0
        while count := self.run_once():
            total += count
        return total

    def run_forever(self, stop: threading.Event, *, interval: float) -> None:
        """Relay until `stop` is set, sleeping `interval` when idle or failing."""
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:
                log.exception("relay.failed", relay=self.name)
            stop.wait(interval)

    def _offset(self, connection: Connection) -> Position:
        row = connection.execute(
            select(relay_offsets.c.last_txid, relay_offsets.c.last_seq).where(
                relay_offsets.c.name == self.name
            )
        ).first()
        return Position() if row is None else Position(row.last_txid, row.last_seq)

    def _advance(self, connection: Connection, new: Position) -> None:
        now = datetime.now(UTC)
        moved = connection.execute(
            update(relay_offsets)
            .where(
                relay_offsets.c.name == self.name,
                or_(
                    relay_offsets.c.last_txid < new.txid,
                    and_(
                        relay_offsets.c.last_txid == new.txid,
                        relay_offsets.c.last_seq < new.seq,
                    ),
                ),
            )
            .values(last_txid=new.txid, last_seq=new.seq, updated_at=now)
        ).rowcount
        if moved or self._offset(connection) != Position():
            return
        connection.execute(
            insert(relay_offsets).values(
                name=self.name, last_txid=new.txid, last_seq=new.seq, updated_at=now
            )
        )
