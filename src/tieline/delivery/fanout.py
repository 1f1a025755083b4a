"""The webhook fan-out: a consumer of committed events that queues messages.

For each event it writes one `webhook_messages` row per endpoint that wants it,
in the same transaction as the consumer's inbox row, so an event is queued for
an endpoint exactly once however often the bus delivers it. The row holds the
exact body to send and its stable `webhook-id`; the dispatcher
(`tieline.delivery.dispatcher`) sends it. Nothing is sent from here: sending
happens only after this transaction committed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from tieline.delivery.endpoints import ENABLED, HELD, PENDING, list_endpoints
from tieline.delivery.signing import message_id
from tieline.events.consumers import Consumer
from tieline.store import Transaction
from tieline.store._delivery_schema import webhook_messages

CONSUMER_NAME = "webhooks"

_INSERT_MESSAGE = insert(webhook_messages)


def queue_messages(tx: Transaction, event: dict[str, Any]) -> None:
    """Queue `event` for every endpoint whose subscription it matches."""
    queue_many(tx, [event])


def queue_many(tx: Transaction, events: list[dict[str, Any]]) -> None:
    """Queue each of `events`, in order: one read of the endpoints, one insert."""
    endpoints = list_endpoints(tx.connection)
    if not endpoints:
        return
    now = datetime.now(UTC)
    rows = []
    for event in events:
        wanted = [e for e in endpoints if e.wants(event)]
        if not wanted:
            continue
        body = json.dumps(event, sort_keys=True, separators=(",", ":"))
        when = _event_time(event, now)
        rows += [
            {
                "message_id": message_id(endpoint.id, event["id"]),
                "endpoint_id": endpoint.id,
                "event_id": event["id"],
                "event_type": event["type"],
                "event_time": when,
                "payload": body,
                "status": PENDING if endpoint.status == ENABLED else HELD,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint in wanted
        ]
    if rows:
        tx.connection.execute(_INSERT_MESSAGE, rows)


def _event_time(event: dict[str, Any], default: datetime) -> datetime:
    stamp = event.get("time")
    if not isinstance(stamp, str):
        return default
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def webhook_consumer() -> Consumer:
    """The durable consumer that queues every event for its endpoints."""
    return Consumer(
        CONSUMER_NAME, ("tieline.>",), queue_messages, batch_handler=queue_many
    )
