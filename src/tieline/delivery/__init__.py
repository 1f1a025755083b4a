"""Delivery: outbound webhooks (signed, retried, protected) and inbound ones."""

from tieline.delivery._roles import start_delivery
from tieline.delivery.dispatcher import WebhookDispatcher
from tieline.delivery.endpoints import (
    Endpoint,
    EndpointDisabled,
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
from tieline.delivery.inbound import (
    InboundMessage,
    InboundReceiver,
    Scheme,
    Source,
    add_source,
    inbound_consumer,
    register_processor,
)
from tieline.delivery.protection import BreakerPolicy, CircuitBreaker, TokenBucket
from tieline.delivery.schedule import DEFAULT_SCHEDULE, RetrySchedule
from tieline.events import registry

# The consumers delivery defines, known to `tieline serve` and to replays.
registry.register(webhook_consumer())
registry.register(inbound_consumer())

__all__ = [
    "DEFAULT_SCHEDULE",
    "BreakerPolicy",
    "CircuitBreaker",
    "Endpoint",
    "EndpointDisabled",
    "InboundMessage",
    "InboundReceiver",
    "RetrySchedule",
    "Scheme",
    "Source",
    "TokenBucket",
    "WebhookDispatcher",
    "add_source",
    "attempts_of",
    "create_endpoint",
    "disable",
    "enable",
    "get_endpoint",
    "inbound_consumer",
    "recover",
    "register_processor",
    "resend",
    "rotate_secret",
    "start_delivery",
    "webhook_consumer",
]
