"""A consumer worker in its own process, for the fault tests to kill.

Usage: python fault_worker.py DATABASE_URL BUS (sql | nats://...) NAMESPACE
Each handled event adds one row to `test_effects` (no unique key, so a
duplicate handling would show as a second row). Runs until killed.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from sqlalchemy import text

from tieline.events import Consumer, ConsumerWorker, SqlLogBus
from tieline.events.bus import Bus
from tieline.store import Store, Transaction

CONSUMER = "fault-ledger"


def handle(tx: Transaction, event: dict[str, Any]) -> None:
    """Write one effect, slowly enough that a kill lands mid-delivery."""
    tx.connection.execute(
        text(
            "INSERT INTO test_effects (consumer, event_id, subject, n) "
            "VALUES (:c, :e, :s, :n)"
        ),
        {"c": CONSUMER, "e": event["id"], "s": event["subject"], "n": 0},
    )
    # 5 ms an event: 3000 events take seconds even when a group commits many
    # at once, so the test's kill lands mid-delivery (at 1 ms, a fast run
    # could finish everything between the test's poll and its kill).
    time.sleep(0.005)


def main() -> None:
    """Run the worker until the process is killed."""
    url, bus_url, namespace = sys.argv[1:4]
    store = Store(url)
    bus: Bus
    if bus_url == "sql":
        bus = SqlLogBus(store, lease_seconds=2.0, poll_interval=0.01)
    else:
        from tieline.events._natsbus import NatsBus

        bus = NatsBus(bus_url, namespace=namespace, ack_wait=2.0)
    consumer = Consumer(CONSUMER, ("tieline.commitment.>",), handle)
    worker = ConsumerWorker(store, bus, [consumer], batch_size=100, fetch_timeout=0.2)
    stop = threading.Event()
    worker.start(stop)
    print("worker started", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
