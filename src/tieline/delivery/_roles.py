"""Starting delivery in a worker process: the webhook dispatcher.

The webhook fan-out is a backbone consumer (registered when `tieline.delivery`
is imported, so `start_backbone` runs it); the dispatcher that sends the
queued messages is started here, in every process with the `worker` role.
Several workers share the queue through leases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

from tieline.delivery.dispatcher import WebhookDispatcher
from tieline.store import Store


def start_delivery(
    store: Store, roles: Collection[str], stop: threading.Event
) -> Callable[[], None]:
    """Start the dispatcher when this process is a worker; returns its stopper."""
    if "worker" not in roles:
        return lambda: None
    thread = WebhookDispatcher(store).start(stop)

    def shut_down() -> None:
        stop.set()
        thread.join(timeout=15)

    return shut_down
