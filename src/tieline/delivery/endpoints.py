"""Outbound webhook endpoints: subscriptions, secrets, state, re-send, recovery.

An endpoint subscribes to event types (NATS-style patterns, as consumers do)
and optionally to one project, one legal entity or one inbound webhook source
(`filters`, matched against the event's data: `project_id`,
`legal_entity_id`, `source`). An event whose data lacks a filtered key does
not match, so `{"source": "procore"}` with the type
`tieline.inbound.received` picks one sender's forwarded webhooks. Each
endpoint has its own Standard Webhooks secret. Rotating the secret keeps
the previous one signing for an overlap (default 24 h), so a receiver can
switch secrets without losing a message.

An endpoint is `enabled` or `disabled`. Messages for a disabled endpoint are
still written, as `held`, so nothing is lost while it is off; `enable` sends
them, and `recover(since=...)` also sends again every message that failed
since a point in time. `resend` sends one message again with its same
`webhook-id`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, insert, select, update

from tieline._context import new_id
from tieline.delivery.signing import new_secret
from tieline.errors import PermanentError, RecordNotFound, ValidationFailed
from tieline.events._log import matches
from tieline.logging import get_logger
from tieline.store import Store
from tieline.store._delivery_schema import (
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
)

log = get_logger(__name__)

ENABLED, DISABLED = "enabled", "disabled"
# Message states: waiting to be sent (or retried), sent, gave up, or parked
# because the endpoint is disabled.
PENDING, DELIVERED, FAILED, HELD = "pending", "delivered", "failed", "held"
# `source`: the inbound webhook source of a `tieline.inbound.received` event.
FILTER_KEYS = frozenset({"project_id", "legal_entity_id", "source"})


class EndpointDisabled(PermanentError):
    """A message cannot be sent while its endpoint is disabled."""

    def __init__(self, endpoint_id: str, reason: str | None) -> None:
        because = f" ({reason})" if reason else ""
        super().__init__(
            f"webhook endpoint {endpoint_id} is disabled{because}; enable or "
            "recover it, which sends its held messages"
        )
        self.endpoint_id = endpoint_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One outbound webhook endpoint as stored (secrets left out of `repr`)."""

    id: str
    url: str
    event_types: tuple[str, ...]
    filters: Mapping[str, str]
    status: str
    description: str = ""
    rate_limit: float | None = None
    disabled_reason: str | None = None

    def wants(self, event: Mapping[str, Any]) -> bool:
        """Whether `event` matches this endpoint's types and filters."""
        if not matches(event["type"], self.event_types):
            return False
        data = event.get("data")
        data = data if isinstance(data, Mapping) else {}
        return all(data.get(key) == value for key, value in self.filters.items())


def destination(url: str) -> str:
    """The host a URL points at (scheme, host, port): breakers key on it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or _port(parts.scheme)}"


def _port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def create_endpoint(
    store: Store,
    url: str,
    *,
    event_types: Sequence[str] = ("tieline.>",),
    filters: Mapping[str, str] | None = None,
    description: str = "",
    secret: str | None = None,
    rate_limit: float | None = None,
) -> tuple[Endpoint, str]:
    """Add an endpoint; returns it and its secret (shown once, to the caller)."""
    _check(url, event_types, filters or {}, rate_limit)
    now = datetime.now(UTC)
    endpoint_id, secret = new_id(), secret or new_secret()
    with store.transaction() as tx:
        tx.connection.execute(
            insert(webhook_endpoints).values(
                id=endpoint_id,
                url=url,
                description=description,
                event_types=list(event_types),
                filters=dict(filters or {}),
                secret=secret,
                status=ENABLED,
                rate_limit=rate_limit,
                created_at=now,
                updated_at=now,
            )
        )
    log.info("webhook.endpoint_created", endpoint_id=endpoint_id, host=_host(url))
    return get_endpoint(store, endpoint_id), secret


def _check(
    url: str,
    event_types: Sequence[str],
    filters: Mapping[str, str],
    rate_limit: float | None,
) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("must be an http(s) URL", record="endpoint", field="url")
    if not event_types:
        raise ValidationFailed(
            "subscribe to at least one type", record="endpoint", field="event_types"
        )
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise ValidationFailed(
            f"unknown filter {sorted(unknown)}; use {sorted(FILTER_KEYS)}",
            record="endpoint",
            field="filters",
        )
    if rate_limit is not None and rate_limit <= 0:
        raise ValidationFailed(
            "must be > 0 requests per second", record="endpoint", field="rate_limit"
        )


def get_endpoint(store: Store, endpoint_id: str) -> Endpoint:
    """One endpoint by id, or RecordNotFound."""
    with store.read() as tx:
        return get_endpoint_in(tx.connection, endpoint_id)


def get_endpoint_in(connection: Connection, endpoint_id: str) -> Endpoint:
    """One endpoint by id, read on `connection`, or RecordNotFound."""
    return to_endpoint(_endpoint_row(connection, endpoint_id)._mapping)


def list_endpoints(connection: Connection) -> list[Endpoint]:
    """Every endpoint, enabled or not, oldest first."""
    rows = connection.execute(
        select(webhook_endpoints).order_by(webhook_endpoints.c.created_at)
    ).all()
    return [to_endpoint(row._mapping) for row in rows]


def to_endpoint(row: Any) -> Endpoint:
    """An `Endpoint` from a `webhook_endpoints` row."""
    return Endpoint(
        id=row["id"],
        url=row["url"],
        event_types=tuple(row["event_types"]),
        filters=dict(row["filters"]),
        status=row["status"],
        description=row["description"],
        rate_limit=row["rate_limit"],
        disabled_reason=row["disabled_reason"],
    )


def secrets_in_force(row: Any, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous in overlap."""
    until = row["previous_until"]
    if until is not None and until.tzinfo is None:  # SQLite keeps no zone.
        until = until.replace(tzinfo=UTC)
    previous = row["previous_secret"]
    if previous and until is not None and until > now:
        return [row["secret"], previous]
    return [row["secret"]]


def rotate_secret(
    store: Store,
    endpoint_id: str,
    *,
    overlap: timedelta = timedelta(hours=24),
    secret: str | None = None,
) -> str:
    """Give the endpoint a new secret; the old one signs too until `overlap` ends."""
    now, fresh = datetime.now(UTC), secret or new_secret()
    with store.transaction() as tx:
        row = _endpoint_row(tx.connection, endpoint_id)
        tx.connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(
                secret=fresh,
                previous_secret=row.secret,
                previous_until=now + overlap,
                updated_at=now,
            )
        )
    log.info("webhook.secret_rotated", endpoint_id=endpoint_id, overlap=str(overlap))
    return fresh


def enable(store: Store, endpoint_id: str) -> int:
    """Enable the endpoint and queue its held messages; returns how many."""
    with store.transaction() as tx:
        _endpoint_row(tx.connection, endpoint_id)
        _set_status(tx.connection, endpoint_id, ENABLED, None)
        queued = _requeue(tx.connection, endpoint_id, (HELD,), None)
    log.info("webhook.endpoint_enabled", endpoint_id=endpoint_id, queued=queued)
    return queued


def recover(store: Store, endpoint_id: str, *, since: datetime) -> int:
    """Enable the endpoint and send again what failed or waited since `since`."""
    with store.transaction() as tx:
        queued = recover_in(tx.connection, endpoint_id, since)
    log.info("webhook.endpoint_recovered", endpoint_id=endpoint_id, queued=queued)
    return queued


def recover_in(connection: Connection, endpoint_id: str, since: datetime) -> int:
    """`recover` inside the caller's transaction; returns how many were queued.

    Every held message is queued, and every failed one created at or after
    `since` (a zone-less `since` is taken as UTC; one in the future is refused,
    as it would queue nothing and look like a recovery). A failed message that
    used its whole schedule gets one more try, not a new schedule.
    """
    since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    if since > datetime.now(UTC):
        raise ValidationFailed(
            "must not be in the future", record="recovery", field="since"
        )
    _endpoint_row(connection, endpoint_id)
    _set_status(connection, endpoint_id, ENABLED, None)
    queued = _requeue(connection, endpoint_id, (HELD,), None)
    return queued + _requeue(connection, endpoint_id, (FAILED,), since)


def disable(store: Store, endpoint_id: str, *, reason: str) -> None:
    """Stop sending to the endpoint; its pending messages are held, not lost."""
    with store.transaction() as tx:
        _endpoint_row(tx.connection, endpoint_id)
        disable_in(tx.connection, endpoint_id, reason)


def disable_in(connection: Connection, endpoint_id: str, reason: str) -> None:
    """Disable inside the caller's transaction and hold the pending messages."""
    _set_status(connection, endpoint_id, DISABLED, reason)
    connection.execute(
        update(webhook_messages)
        .where(
            webhook_messages.c.endpoint_id == endpoint_id,
            webhook_messages.c.status == PENDING,
        )
        .values(status=HELD, lease_owner=None, lease_until=None)
    )


def resend(store: Store, message_id: str) -> None:
    """Send one message again (same `webhook-id`), whatever became of it."""
    with store.transaction() as tx:
        resend_in(tx.connection, message_id)
    log.info("webhook.resend_queued", message_id=message_id)


def resend_in(connection: Connection, message_id: str) -> str:
    """`resend` inside the caller's transaction; returns the endpoint's id.

    The message is due now. A lease still running is left alone: the message
    is being sent at this moment, and clearing the lease would let a second
    dispatcher send it beside the first (so the message of a dispatcher that
    died goes out when its lease ends, `lease_seconds` after the claim). A
    message of a disabled endpoint is refused (`EndpointDisabled`): it would
    only be held again.
    """
    row = connection.execute(
        select(webhook_messages.c.endpoint_id).where(
            webhook_messages.c.message_id == message_id
        )
    ).first()
    if row is None:
        raise RecordNotFound("webhook message", message_id)
    endpoint = _endpoint_row(connection, row.endpoint_id)
    if endpoint.status != ENABLED:
        raise EndpointDisabled(row.endpoint_id, endpoint.disabled_reason)
    connection.execute(
        update(webhook_messages)
        .where(webhook_messages.c.message_id == message_id)
        .values(status=PENDING, next_attempt_at=datetime.now(UTC))
    )
    return str(row.endpoint_id)


def attempts_of(store: Store, message_id: str) -> list[dict[str, Any]]:
    """Every attempt at one message, oldest first: status, latency, excerpt."""
    with store.read() as tx:
        rows = tx.connection.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.message_id == message_id)
            .order_by(webhook_attempts.c.attempt, webhook_attempts.c.id)
        ).all()
    return [dict(row._mapping) for row in rows]


def _endpoint_row(connection: Connection, endpoint_id: str) -> Any:
    row = connection.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    ).first()
    if row is None:
        raise RecordNotFound("webhook endpoint", endpoint_id)
    return row


def _set_status(
    connection: Connection, endpoint_id: str, status: str, reason: str | None
) -> None:
    connection.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(
            status=status,
            disabled_reason=reason,
            failing_since=None,
            updated_at=datetime.now(UTC),
        )
    )


def _requeue(
    connection: Connection,
    endpoint_id: str,
    states: tuple[str, ...],
    since: datetime | None,
) -> int:
    query = update(webhook_messages).where(
        webhook_messages.c.endpoint_id == endpoint_id,
        webhook_messages.c.status.in_(states),
    )
    if since is not None:
        query = query.where(webhook_messages.c.created_at >= since)
    now = datetime.now(UTC)
    return int(
        connection.execute(
            query.values(status=PENDING, next_attempt_at=now, lease_until=None)
        ).rowcount
    )


def _host(url: str) -> str:
    # Log the host only: a webhook URL often carries a token in its path.
    return urlsplit(url).hostname or "?"
