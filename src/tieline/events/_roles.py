"""Starting the backbone's roles in a process: the relay and the workers.

`start_backbone(store, settings, roles, stop)` starts, in daemon threads, the
outbox relay (role `relay`, only when the bus is NATS: the SQL event log needs
none) and a consumer worker over every registered consumer (role `worker`).
Any number of processes may run either role: relays de-duplicate through
`Nats-Msg-Id`, workers share NATS consumers or take turns on the SQL log's
lease, and the inbox drops whatever is served twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

from tieline.events.bus import open_bus
from tieline.events.consumers import ConsumerWorker
from tieline.events.registry import registered
from tieline.events.relay import OutboxRelay
from tieline.logging import get_logger
from tieline.settings import Settings
from tieline.store import Store

log = get_logger(__name__)


def start_backbone(
    store: Store, settings: Settings, roles: Collection[str], stop: threading.Event
) -> Callable[[], None]:
    """Start the relay and/or worker; returns a function that stops them."""
    if not {"relay", "worker"} & set(roles):
        return lambda: None
    bus = open_bus(
        store,
        url=settings.bus_url,
        namespace=settings.bus_namespace,
        ack_wait=settings.bus_ack_wait,
    )
    threads: list[threading.Thread] = []
    if "relay" in roles and settings.bus_url:
        relay = OutboxRelay(store, name="bus", sink=bus.publish)
        thread = threading.Thread(
            target=relay.run_forever,
            args=(stop,),
            kwargs={"interval": settings.relay_interval},
            name="outbox-relay",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    worker = None
    if "worker" in roles:
        consumers = list(registered().values())
        worker = ConsumerWorker(store, bus, consumers, lanes=settings.worker_lanes)
        threads.extend(worker.start(stop))
        log.info("worker.started", consumers=[c.name for c in consumers])

    def shut_down() -> None:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if worker is not None:
            worker.close()
        bus.close()

    return shut_down
