"""The event backbone: outbox relay, bus, durable consumers, dead letters."""

from tieline.events._inbox import Handler, Outcome, handle_once
from tieline.events._sqlbus import SqlLogBus
from tieline.events.bus import Batch, Bus, Delivery, Feed, Subscription, open_bus
from tieline.events.consumers import Consumer, ConsumerWorker, WorkerStats
from tieline.events.relay import OutboxRelay

__all__ = [
    "Batch",
    "Bus",
    "Consumer",
    "ConsumerWorker",
    "Delivery",
    "Feed",
    "Handler",
    "OutboxRelay",
    "Outcome",
    "SqlLogBus",
    "Subscription",
    "WorkerStats",
    "handle_once",
    "open_bus",
]
