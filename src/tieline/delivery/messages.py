"""The outbound message log: what each endpoint was sent, and every attempt.

A message is one event queued for one endpoint (`webhook_messages`); its id is
the `webhook-id` header, the same on every attempt and every re-send. Each
HTTP attempt leaves a row in `webhook_attempts` (time, status code, latency,
the first bytes of the answer, the error). This module reads them for people:
the API's message routes and `tieline webhooks ...`.

Nothing here shows what signs a request: the log keeps no request headers,
and a secret or a signature that a receiver echoes back in its answer is
replaced by `***` before the excerpt is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from tieline.delivery.endpoints import DELIVERED, FAILED, HELD, PENDING
from tieline.errors import RecordNotFound
from tieline.store._delivery_schema import webhook_attempts, webhook_messages

# Every state a message can be in; `pending` covers first tries and retries
# (a retry is a pending message with attempts > 0).
STATUSES = (PENDING, DELIVERED, FAILED, HELD)
# The dispatcher keeps 512 bytes of an answer; shown no longer than this.
EXCERPT_CHARS = 512
# A Standard Webhooks secret, or a signature, echoed back by a receiver.
_SIGNING = re.compile(r"whsec_[A-Za-z0-9+/=]+|v1[,=][A-Za-z0-9+/]{16,}={0,2}")
_M = webhook_messages.c
_A = webhook_attempts.c


@dataclass(frozen=True, slots=True)
class Message:
    """One event queued for one endpoint, and where its sending stands."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    event_time: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt at a message (`status_code` is None without an answer)."""

    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: float
    outcome: str
    error: str | None
    response_excerpt: str | None


def utc(stamp: datetime) -> datetime:
    """`stamp` with its zone: SQLite keeps none, and tieline writes UTC."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def redact(text: str | None) -> str | None:
    """`text` without secrets or signatures in it, and no longer than the log's."""
    if text is None:
        return None
    return _SIGNING.sub("***", text)[:EXCERPT_CHARS]


def messages_query(
    endpoint_id: str, *, status: str | None = None, since: datetime | None = None
) -> Select[Any]:
    """The endpoint's messages, optionally in one state or created since a time."""
    query = select(webhook_messages).where(_M.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(_M.status == status)
    if since is not None:
        query = query.where(_M.created_at >= utc(since).astimezone(UTC))
    return query


def list_messages(
    connection: Connection,
    endpoint_id: str,
    *,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Message]:
    """The endpoint's newest `limit` messages, newest first."""
    query = messages_query(endpoint_id, status=status, since=since)
    rows = connection.execute(
        query.order_by(_M.created_at.desc(), _M.message_id.desc()).limit(limit)
    ).all()
    return to_messages(connection, rows)


def get_message(connection: Connection, message_id: str) -> Message:
    """One message by its `webhook-id`, or RecordNotFound."""
    row = connection.execute(
        select(webhook_messages).where(_M.message_id == message_id)
    ).first()
    if row is None:
        raise RecordNotFound("webhook message", message_id)
    return to_messages(connection, [row])[0]


def to_messages(connection: Connection, rows: Sequence[Any]) -> list[Message]:
    """`Message`s from `webhook_messages` rows, with each one's last status code."""
    codes = _last_status_codes(connection, [row.message_id for row in rows])
    return [_message(row, codes.get(row.message_id)) for row in rows]


def _message(row: Any, status_code: int | None) -> Message:
    # The due time only means something while the message waits to be sent.
    due = utc(row.next_attempt_at) if row.status == PENDING else None
    return Message(
        id=row.message_id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        event_time=utc(row.event_time),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=due,
        last_error=redact(row.last_error),
        last_status_code=status_code,
        created_at=utc(row.created_at),
        delivered_at=None if row.delivered_at is None else utc(row.delivered_at),
    )


def _last_status_codes(
    connection: Connection, message_ids: Iterable[str]
) -> dict[str, int | None]:
    """The status code of each message's latest attempt (None: no answer)."""
    wanted = list(message_ids)
    if not wanted:
        return {}
    rows = connection.execute(
        select(_A.message_id, _A.status_code)
        .where(_A.message_id.in_(wanted))
        .order_by(_A.message_id, _A.attempt, _A.id)
    ).all()
    # Ordered by attempt: the last row seen per message is its latest.
    return {row.message_id: row.status_code for row in rows}


def attempts_for(connection: Connection, message_id: str) -> list[Attempt]:
    """Every attempt at one message, oldest first; RecordNotFound if no message."""
    found = connection.execute(select(_M.id).where(_M.message_id == message_id)).first()
    if found is None:
        raise RecordNotFound("webhook message", message_id)
    rows = connection.execute(
        select(webhook_attempts)
        .where(_A.message_id == message_id)
        .order_by(_A.attempt, _A.id)
    ).all()
    return [
        Attempt(
            attempt=row.attempt,
            started_at=utc(row.started_at),
            status_code=row.status_code,
            latency_ms=row.latency_ms,
            outcome=row.outcome,
            error=redact(row.error),
            response_excerpt=redact(row.response_excerpt),
        )
        for row in rows
    ]
