"""The outbox relay: reads committed outbox events in order and hands them on.

Operator's notes
----------------
The relay runs inside `tieline serve` (embedded default) and keeps one offset
per relay name in `relay_offsets`: the `seq` of the last event it handed on.
On restart it continues after that offset, so an event is handed on at least
once; consumers de-duplicate by event id. With no sink configured, the SQL
event log is itself the bus: the relay only advances its offset and logs each
event at debug level.

Log lines: `relay.published` (info, per batch, with `count` and `last_seq`),
`relay.failed` (error, with traceback; the relay sleeps and retries the same
batch, nothing is skipped).

Settings: `TIELINE_RELAY_INTERVAL`, seconds to sleep when the outbox is empty.

TODO: on PostgreSQL, `seq` values are taken when a row is inserted but become
visible when its transaction commits, so a slow transaction can commit a lower
seq after the relay moved past it. The embedded SQLite store has one writer at
a time and cannot show this; the backbone (NATS and PostgreSQL scale-out) must
close the gap before several writers share PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from tieline.logging import get_logger
from tieline.store import Store
from tieline.store._schema import outbox, relay_offsets

log = get_logger(__name__)

Sink = Callable[[Sequence[dict[str, Any]]], None]


def _log_sink(events: Sequence[dict[str, Any]]) -> None:
    for event in events:
        log.debug("relay.event", event_id=event["id"], type=event["type"])


class OutboxRelay:
    """Moves outbox events, in `seq` order, to a sink, remembering its place."""

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
            rows = tx.connection.execute(
                select(outbox.c.seq, outbox.c.envelope)
                .where(outbox.c.seq > offset)
                .order_by(outbox.c.seq)
                .limit(self.batch_size)
            ).all()
            if not rows:
                return 0
            self.sink([json.loads(row.envelope) for row in rows])
            self._advance(tx.connection, offset, rows[-1].seq)
        log.info("relay.published", count=len(rows), last_seq=rows[-1].seq)
        return len(rows)

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

    def _offset(self, connection: Any) -> int:
        value = connection.execute(
            select(relay_offsets.c.last_seq).where(relay_offsets.c.name == self.name)
        ).scalar_one_or_none()
        return 0 if value is None else int(value)

    def _advance(self, connection: Any, old: int, new: int) -> None:
        now = datetime.now(UTC)
        if (
            old == 0
            and connection.execute(
                select(relay_offsets.c.name).where(relay_offsets.c.name == self.name)
            ).first()
            is None
        ):
            connection.execute(
                insert(relay_offsets).values(
                    name=self.name, last_seq=new, updated_at=now
                )
            )
            return
        connection.execute(
            update(relay_offsets)
            .where(relay_offsets.c.name == self.name)
            .values(last_seq=new, updated_at=now)
        )
