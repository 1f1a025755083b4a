"""The Odoo push consumer in its own process, for the kill test to SIGKILL.

Usage: python push_worker.py DATABASE_URL ODOO_URL ODOO_DB ODOO_LOGIN
                             [STALL_AT STALL_MODEL MARKER_FILE]
with the Odoo secret (password or API key) in the environment variable
PUSH_WORKER_ODOO_SECRET, so it shows in no process list. With
PUSH_WORKER_UNTHROTTLED set (the Odoo double), calls are not rate-limited;
a real Odoo gets the client's default limits.

Runs the push consumer `odoo-main` over the SQL event log, as a hub's
worker role does, until killed (or until the process that started it ends).

With STALL_AT, the process stops for good at the first write of a
STALL_MODEL record, after Odoo answered and before the consumer's store
transaction commits, and writes the record's Odoo id to MARKER_FILE; the
test's SIGKILL then lands in that window however fast or slow the machine
is. STALL_AT says where:

- `create`: right after Odoo answered the create, before tieline stamped
  its external id on the record (a retry can only find it by natural key);
- `bind`: right after the binding row was written, in the transaction that
  has not committed (a retry finds the record by its external id).

The stalls wrap the client's `create` and the binder's `bind` here, in the
test's worker; the product has no test branch for them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from tieline.connectors.odoo import Limits, OdooClient, OdooSync, RetryPolicy
from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo.consumers import push_consumer
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.retry import RetryPolicy as PushRetry
from tieline.store import Store

# Short, so the restarted worker takes the dead one's events within a second
# (the lease is what hands a dead worker's log over, as in production).
LEASE = 1.0
# A bill's lane may wait for its order's binding; retry it quickly.
QUICK = PushRetry(initial_delay=0.02, max_delay=0.2, max_attempts=30)


def _stall(marker: Path, odoo_id: int) -> NoReturn:
    marker.write_text(str(odoo_id))
    while True:
        time.sleep(60)


def stall_after_create(client: OdooClient, model: str, marker: Path) -> None:
    """Make `client` stop for good once Odoo answered a create of `model`."""
    create = client.create

    def create_then_stall(target: str, values: dict[str, Any], **kwargs: Any) -> int:
        odoo_id = create(target, values, **kwargs)
        if target == model:
            _stall(marker, odoo_id)
        return odoo_id

    client.create = create_then_stall  # type: ignore[method-assign,assignment]


def stall_after_bind(model: str, marker: Path) -> None:
    """Make every binder stop for good once it wrote a binding of `model`."""
    bind = Binder.bind

    def bind_then_stall(
        binder: Binder, target: str, canonical_id: str, odoo_id: int, **kwargs: Any
    ) -> None:
        bind(binder, target, canonical_id, odoo_id, **kwargs)
        if target == model:
            _stall(marker, odoo_id)

    Binder.bind = bind_then_stall  # type: ignore[method-assign]


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
    if len(sys.argv) == 8:
        stall_at, model, marker = sys.argv[5], sys.argv[6], Path(sys.argv[7])
        if stall_at == "create":
            stall_after_create(client, model, marker)
        else:
            stall_after_bind(model, marker)
    store = Store(database_url)
    consumer = push_consumer(OdooSync(client, instance="main"), retry=QUICK)
    bus = SqlLogBus(store, lease_seconds=LEASE, poll_interval=0.01)
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.2)
    stop = threading.Event()
    parent = os.getppid()
    worker.start(stop)
    print("push worker started", flush=True)
    # A test process that died without killing its worker leaves no orphan.
    while os.getppid() == parent:
        stop.wait(1.0)
    os._exit(1)


if __name__ == "__main__":
    main()
