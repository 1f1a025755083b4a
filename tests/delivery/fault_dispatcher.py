"""A webhook dispatcher in its own process, for the fault test to kill.

Usage: python fault_dispatcher.py DATABASE_URL

Sends every queued message, with a 3 s request timeout and a 4 s lease (the
lease outlasts a request, as in production, and runs out soon after a kill so
the next dispatcher takes the dead one's messages). Runs until killed.
"""

from __future__ import annotations

import sys
import threading

from tieline.delivery import BreakerPolicy, RetrySchedule, WebhookDispatcher
from tieline.store import Store

TIMEOUT = 3.0
LEASE = 4.0


def main() -> None:
    """Run the dispatcher until the process is killed."""
    store = Store(sys.argv[1])
    dispatcher = WebhookDispatcher(
        store,
        schedule=RetrySchedule(delays=(0.05, 0.1, 0.2), jitter=0.2),
        breaker=BreakerPolicy(failure_threshold=1000),
        timeout=TIMEOUT,
        lease_seconds=LEASE,
        poll_interval=0.01,
    )
    stop = threading.Event()
    dispatcher.start(stop)
    print("dispatcher started", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
