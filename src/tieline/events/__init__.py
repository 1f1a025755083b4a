"""The event backbone: the outbox relay now; the bus and consumers build on it."""

from tieline.events.relay import OutboxRelay

__all__ = ["OutboxRelay"]
