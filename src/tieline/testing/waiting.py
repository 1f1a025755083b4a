"""Waiting for background work in tests without betting on the machine's speed.

A fixed deadline fails a slow but healthy run; waiting for ever hides a hang.
`wait_for` waits while the work moves: it gives up only when a measure of
progress has stood still for `patience` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import select

from tieline.events import Consumer, ConsumerWorker
from tieline.events._log import matches
from tieline.events.bus import Feed
from tieline.store import Store
from tieline.store._schema import dead_letters, inbox, outbox


def wait_for(
    done: Callable[[], bool],
    what: str,
    *,
    progress: Callable[[], object] | None = None,
    patience: float = 60.0,
    poll: float = 0.05,
) -> None:
    """Return once `done()` holds; raise if nothing moved for `patience` seconds.

    `progress` returns any comparable reading (a count, a dict of counts); each
    change restarts the patience clock. Without it, `patience` bounds the
    whole wait.
    """
    reading = progress() if progress is not None else None
    quiet_since = time.monotonic()
    while not done():
        now = time.monotonic()
        if progress is not None:
            latest = progress()
            if latest != reading:
                reading, quiet_since = latest, now
        if now - quiet_since > patience:
            seen = f"; last reading {reading!r}" if progress is not None else ""
            raise TimeoutError(f"{what}: no progress for {patience:g}s{seen}")
        time.sleep(poll)


def outstanding(store: Store, consumer: str, patterns: Sequence[str]) -> int:
    """How many outbox events of `patterns` the consumer has not settled yet.

    Settled means handled (in its inbox) or given up on (a dead letter). On
    PostgreSQL the SQL log holds back events newer than the server's oldest
    open transaction, so an empty fetch does not mean a consumer is done;
    this count does.
    """
    with store.read() as tx:
        wanted = {
            row.event_id
            for row in tx.connection.execute(select(outbox.c.event_id, outbox.c.type))
            if matches(row.type, patterns)
        }
        settled = {
            row.event_id
            for table in (inbox, dead_letters)
            for row in tx.connection.execute(
                select(table.c.event_id).where(table.c.consumer == consumer)
            )
        }
    return len(wanted - settled)


def drain(store: Store, worker: ConsumerWorker, consumer: Consumer, feed: Feed) -> int:
    """Poll `consumer` until a fetch finds nothing and nothing is outstanding.

    Returns how many deliveries the polls handled. Gives up, like `wait_for`,
    only when neither count has moved for a minute.
    """
    stop = threading.Event()
    total, last = 0, -1

    def left() -> int:
        return outstanding(store, consumer.name, consumer.patterns)

    def settled() -> bool:
        nonlocal total, last
        last = worker.poll(consumer, feed, stop)
        total += last
        return last == 0 and not left()

    wait_for(
        settled,
        f"the {consumer.name} consumer",
        progress=lambda: (total, left()),
        poll=0,
    )
    return total
