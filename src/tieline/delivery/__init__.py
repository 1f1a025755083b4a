"""Delivery: outbound webhooks (signed, retried, protected) and inbound ones."""

from tieline.delivery._roles import start_delivery
from tieline.delivery.dispatcher import WebhookDispatcher
from tieline.delivery.endpoints import (
    Endpoint,
    attempts_of,
    create_endpoint,
    disable,
    enable,
    get_endpoint,
    recover,
    resend,
    rotate_secret,
)
from tieline.delivery.fanout import webhook_consumer
from tieline.delivery.protection import BreakerPolicy, CircuitBreaker, TokenBucket
from tieline.delivery.schedule import DEFAULT_SCHEDULE, RetrySchedule
from tieline.events import registry

# The consumers delivery defines, known to `tieline serve` and to replays.
registry.register(webhook_consumer())

__all__ = [
    "DEFAULT_SCHEDULE",
    "BreakerPolicy",
    "CircuitBreaker",
    "Endpoint",
    "RetrySchedule",
    "TokenBucket",
    "WebhookDispatcher",
    "attempts_of",
    "create_endpoint",
    "disable",
    "enable",
    "get_endpoint",
    "recover",
    "resend",
    "rotate_secret",
    "start_delivery",
    "webhook_consumer",
]
