"""The consumers this process knows, by name: for workers and for replays.

Parts that define consumers (delivery, workflows, connectors) register them
at import; `tieline serve` and `tieline deadletters replay` look them up here.
Global state, so tests call `reset()`.
"""

from __future__ import annotations

from tieline.errors import ConfigurationError
from tieline.events.consumers import Consumer

_consumers: dict[str, Consumer] = {}


def register(consumer: Consumer) -> Consumer:
    """Make `consumer` known by its name; a second, different one is refused."""
    known = _consumers.get(consumer.name)
    if known is not None and known != consumer:
        raise ConfigurationError(f"two consumers are named {consumer.name}")
    _consumers[consumer.name] = consumer
    return consumer


def unregister(name: str) -> None:
    """Forget the consumer of that name, if any (a hub shutting down)."""
    _consumers.pop(name, None)


def registered() -> dict[str, Consumer]:
    """Every registered consumer, by name."""
    return dict(_consumers)


def reset() -> None:
    """Forget every registered consumer (tests)."""
    _consumers.clear()
