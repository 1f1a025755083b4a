"""The Odoo push consumer in its own process, for the kill test to SIGKILL.

Usage: python push_worker.py DATABASE_URL ODOO_URL ODOO_DB ODOO_LOGIN
                             [STALL_MODEL MARKER_FILE]
with the Odoo secret (password or API key) in the environment variable
PUSH_WORKER_ODOO_SECRET, so it shows in no process list. With
PUSH_WORKER_UNTHROTTLED set (the Odoo double), calls are not rate-limited;
a real Odoo gets the client's default limits.

Runs the push consumer `odoo-main` over the SQL event log, as a hub's
worker role does, until killed.

With STALL_MODEL, the process stops right after Odoo answered its first
`create` of that model, before tieline stamps its external id on the record
and before the consumer's store transaction (with the binding) commits. It
writes the new record's id to MARKER_FILE and sleeps for good: the test's
SIGKILL then lands in that window however fast or slow the machine is. The
stall wraps the client's `create` here, in the test's worker; the product
has no test branch for it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tieline.connectors.odoo import Limits, OdooClient, OdooSync, RetryPolicy
from tieline.connectors.odoo.consumers import push_consumer
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.retry import RetryPolicy as PushRetry
from tieline.store import Store

# Short, so the restarted worker takes the dead one's events within a second
# (the lease is what hands a dead worker's log over, as in production).
LEASE = 1.0
# A bill's lane may wait for its order's binding; retry it quickly.
QUICK = PushRetry(initial_delay=0.02, max_delay=0.2, max_attempts=30)


def stall_after_create(client: OdooClient, model: str, marker: Path) -> None:
    """Make `client` stop for good once Odoo answered a create of `model`."""
    create = client.create

    def create_then_stall(target: str, values: dict[str, Any], **kwargs: Any) -> int:
        odoo_id = create(target, values, **kwargs)
        if target == model:
            marker.write_text(str(odoo_id))
            while True:
                time.sleep(60)
        return odoo_id

    client.create = create_then_stall  # type: ignore[method-assign,assignment]


def _limits() -> Limits:
    if os.environ.get("PUSH_WORKER_UNTHROTTLED"):
        return Limits(calls_per_second=1000, timeout=10)
    return Limits()


def main() -> None:
    """Run the push consumer until the process is killed."""
    database_url, odoo_url, odoo_db, login = sys.argv[1:5]
    client = OdooClient.connect(
        odoo_url,
        odoo_db,
        login,
        os.environ["PUSH_WORKER_ODOO_SECRET"],
        limits=_limits(),
        retry=RetryPolicy(initial_interval=0.01, max_interval=0.05),
    )
    if len(sys.argv) == 7:
        stall_after_create(client, sys.argv[5], Path(sys.argv[6]))
    store = Store(database_url)
    consumer = push_consumer(OdooSync(client, instance="main"), retry=QUICK)
    bus = SqlLogBus(store, lease_seconds=LEASE, poll_interval=0.01)
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.2)
    stop = threading.Event()
    worker.start(stop)
    print("push worker started", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
