"""The bus: one interface, two back-ends (the SQL event log, NATS JetStream).

A bus takes published events (from the outbox relay) and serves each named
consumer its subscription as one or more `Feed`s. A feed hands out `Batch`es;
a batch is acknowledged when every event in it was handled, dead-lettered or
parked in the store for a later retry, and served again (to this worker or
another) if it is not. Events of one subject always travel in one feed, so a
worker that handles a feed's batches in order keeps each subject's events in
order.

Subscriptions are NATS-style subject patterns over event types: `*` matches
one token, `>` the rest (`tieline.commitment.>`, `tieline.*.approved`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tieline.errors import ConfigurationError
from tieline.store import Store

_CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Subscription:
    """Which events one named consumer receives."""

    consumer: str
    patterns: tuple[str, ...] = ("tieline.>",)

    def __post_init__(self) -> None:
        if not _CONSUMER_NAME.match(self.consumer):
            raise ConfigurationError(
                f"consumer name {self.consumer!r} must be lower-case letters, "
                "digits, '-' or '_', starting with a letter, at most 63 long"
            )
        if not self.patterns:
            raise ConfigurationError(f"consumer {self.consumer} subscribes to nothing")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event as a feed delivered it; `delivered` counts deliveries so far."""

    event: dict[str, Any]
    delivered: int = 1


class Batch(Protocol):
    """Events fetched together, acknowledged together."""

    @property
    def deliveries(self) -> Sequence[Delivery]:
        """The events, in the feed's order."""
        ...

    def keep_alive(self) -> None:
        """Tell the bus the batch is still being worked on (retries in a lane)."""
        ...

    def ack(self) -> None:
        """Every event was handled, parked or dead-lettered: do not serve again."""
        ...


class Feed(Protocol):
    """One ordered source of a consumer's events."""

    name: str

    def fetch(self, max_events: int, timeout: float) -> Batch | None:
        """The next batch, or None when nothing came within `timeout` seconds."""
        ...


class Bus(Protocol):
    """Carries events from the outbox to the consumers."""

    def publish(self, events: Sequence[dict[str, Any]]) -> None:
        """Publish events (each once per stream); raise RetryableError on failure."""
        ...

    def feeds(self, subscription: Subscription) -> list[Feed]:
        """The feeds serving `subscription`, creating durable state as needed."""
        ...

    def close(self) -> None:
        """Release connections this bus opened."""
        ...


def open_bus(
    store: Store, *, url: str | None, namespace: str = "", ack_wait: float = 30.0
) -> Bus:
    """The bus named by `url`: NATS for `nats://`, else the SQL event log."""
    if url is None or not url.strip():
        from tieline.events._sqlbus import SqlLogBus

        return SqlLogBus(store, lease_seconds=ack_wait)
    if url.startswith(("nats://", "tls://")):
        from tieline.events._natsbus import NatsBus

        return NatsBus(url, namespace=namespace, ack_wait=ack_wait)
    raise ConfigurationError(
        f"TIELINE_BUS_URL must start with nats://, not {url[:12]!r}"
    )
