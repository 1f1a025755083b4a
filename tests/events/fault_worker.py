"""A consumer worker in its own process, for the fault tests to kill.

Usage: python fault_worker.py DATABASE_URL BUS (sql | nats://...) NAMESPACE
                              [STALL_AFTER MARKER_FILE]

Each handled event adds one row to `test_effects` (no unique key, so a
duplicate handling would show as a second row). Runs until killed.

With STALL_AFTER, the worker stops inside the handler of its STALL_AFTER-th
event, in the middle of an open transaction, and creates MARKER_FILE: the
test's SIGKILL then lands mid-delivery however fast or slow the machine is.
"""

from __future__ import annotations

import sys
import threading
import time
from itertools import count
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tieline.events import Consumer, ConsumerWorker, SqlLogBus
from tieline.events.bus import Bus
from tieline.store import Store, Transaction

CONSUMER = "fault-ledger"
_handled = count(1)
_stall: tuple[int, Path] | None = None


def handle(tx: Transaction, event: dict[str, Any]) -> None:
    """Write one effect; stall for good at the chosen event, if one is set."""
    tx.connection.execute(
        text(
            "INSERT INTO test_effects (consumer, event_id, subject, n) "
            "VALUES (:c, :e, :s, :n)"
        ),
        {"c": CONSUMER, "e": event["id"], "s": event["subject"], "n": 0},
    )
    if _stall is not None and next(_handled) >= _stall[0]:
        _stall[1].touch()
        while True:
            time.sleep(60)


def main() -> None:
    """Run the worker until the process is killed."""
    global _stall
    url, bus_url, namespace = sys.argv[1:4]
    if len(sys.argv) == 6:
        _stall = (int(sys.argv[4]), Path(sys.argv[5]))
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
