"""Dead letters: events a consumer gave up on, with every attempt and a reason.

A dead letter is `open` until a person replays it (`replayed`) or discards it
with a note (`discarded`). Replay runs the consumer's handler through the same
inbox as live delivery, so an event that was in fact handled (say, by a
redelivery after the dead letter was written) is not handled twice. A replay
that fails again appends its attempt and leaves the letter open.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from tieline.errors import RecordNotFound, ValidationFailed
from tieline.events._inbox import Handler, Outcome, handle_once
from tieline.logging import get_logger
from tieline.store import Store
from tieline.store._schema import dead_letters

log = get_logger(__name__)

OPEN, REPLAYED, DISCARDED = "open", "replayed", "discarded"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One failed attempt: when, what was raised, and how it was classified."""

    at: datetime
    error: str
    error_class: str

    def to_dict(self) -> dict[str, str]:
        """JSON form for the `attempts` column."""
        return {
            "at": self.at.isoformat(),
            "error": self.error,
            "class": self.error_class,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> Attempt:
        """The attempt from its JSON form."""
        return cls(
            datetime.fromisoformat(values["at"]), values["error"], values["class"]
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter as stored."""

    id: int
    consumer: str
    event_id: str
    event_type: str
    subject: str
    project_id: str | None
    event: dict[str, Any]
    attempts: list[dict[str, str]]
    reason: str
    error_type: str
    status: str
    note: str | None
    resolved_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters to list; unset fields do not filter."""

    consumer: str | None = None
    event_type: str | None = None
    project_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    error: str | None = None
    status: str | None = OPEN
    limit: int = 100


def record(
    connection: Connection,
    consumer: str,
    event: dict[str, Any],
    attempts: Sequence[Attempt],
    reason: str,
    *,
    error_type: str | None = None,
) -> None:
    """Write (or re-open, adding attempts to) the dead letter of `event`.

    `error_type` defaults to the class named by the last attempt's error; an
    event given up on without an attempt of its own (one that waited behind
    a parked event of its subject) needs it.
    """
    now = datetime.now(UTC)
    found = connection.execute(
        select(dead_letters.c.id, dead_letters.c.attempts).where(
            dead_letters.c.consumer == consumer,
            dead_letters.c.event_id == event["id"],
        )
    ).first()
    tried = [a.to_dict() for a in attempts]
    values = {
        "reason": reason,
        "error_type": error_type or attempts[-1].error.split(":", 1)[0],
        "status": OPEN,
        "updated_at": now,
    }
    if found is not None:
        values["attempts"] = [*found.attempts, *tried]
        connection.execute(
            update(dead_letters).where(dead_letters.c.id == found.id).values(**values)
        )
        return
    data = event.get("data")
    connection.execute(
        insert(dead_letters).values(
            consumer=consumer,
            event_id=event["id"],
            event_type=event["type"],
            subject=event["subject"],
            project_id=data.get("project_id") if isinstance(data, dict) else None,
            envelope=json.dumps(event, sort_keys=True),
            attempts=tried,
            created_at=now,
            **values,
        )
    )


def list_dead_letters(store: Store, where: DeadLetterFilter) -> list[DeadLetter]:
    """Dead letters matching `where`, oldest first."""
    query = _filtered(select(dead_letters), where)
    with store.engine.connect() as connection:
        rows = connection.execute(
            query.order_by(dead_letters.c.id).limit(where.limit)
        ).all()
    return [_to_letter(row._mapping) for row in rows]


def get_dead_letter(store: Store, letter_id: int) -> DeadLetter:
    """One dead letter by id, or RecordNotFound."""
    with store.engine.connect() as connection:
        row = connection.execute(
            select(dead_letters).where(dead_letters.c.id == letter_id)
        ).first()
    if row is None:
        raise RecordNotFound("dead letter", str(letter_id))
    return _to_letter(row._mapping)


def replay(
    store: Store, handlers: Mapping[str, Handler], letter_id: int, *, actor: str
) -> str:
    """Run the letter's event through its consumer once more; returns the outcome.

    Outcomes: `handled`, `duplicate` (the inbox shows it was handled already),
    `stale` (a newer version was handled since), or `failed: <error>`.
    """
    letter = get_dead_letter(store, letter_id)
    if letter.status != OPEN:
        raise ValidationFailed(
            f"dead letter {letter_id} is {letter.status}, not open", field="status"
        )
    handler = handlers.get(letter.consumer)
    if handler is None:
        raise ValidationFailed(
            f"no consumer named {letter.consumer} runs here", field="consumer"
        )
    try:
        outcome = handle_once(store, letter.consumer, handler, letter.event)
    except Exception as err:
        attempt = Attempt(datetime.now(UTC), f"{type(err).__name__}: {err}", "replay")
        with store.transaction() as tx:
            record(
                tx.connection, letter.consumer, letter.event, [attempt], letter.reason
            )
        log.info("deadletter.replay_failed", letter_id=letter_id, error=attempt.error)
        return f"failed: {attempt.error}"
    _resolve(store, letter_id, REPLAYED, actor, f"replay: {outcome.value}")
    log.info("deadletter.replayed", letter_id=letter_id, outcome=outcome.value)
    return outcome.value


def discard(store: Store, letter_id: int, *, note: str, actor: str) -> None:
    """Close an open dead letter without handling it; a note says why."""
    if not note.strip():
        raise ValidationFailed("a discard needs a note saying why", field="note")
    letter = get_dead_letter(store, letter_id)
    if letter.status != OPEN:
        raise ValidationFailed(
            f"dead letter {letter_id} is {letter.status}, not open", field="status"
        )
    _resolve(store, letter_id, DISCARDED, actor, note)
    log.info("deadletter.discarded", letter_id=letter_id, actor=actor)


def _resolve(store: Store, letter_id: int, status: str, actor: str, note: str) -> None:
    with store.transaction() as tx:
        tx.connection.execute(
            update(dead_letters)
            .where(dead_letters.c.id == letter_id)
            .values(
                status=status,
                note=note,
                resolved_by=actor,
                updated_at=datetime.now(UTC),
            )
        )


def _filtered(query: Select[Any], where: DeadLetterFilter) -> Select[Any]:
    c = dead_letters.c
    if where.consumer is not None:
        query = query.where(c.consumer == where.consumer)
    if where.event_type is not None:
        query = query.where(c.event_type.like(where.event_type.replace("*", "%")))
    if where.project_id is not None:
        query = query.where(c.project_id == where.project_id)
    if where.since is not None:
        query = query.where(c.created_at >= where.since)
    if where.until is not None:
        query = query.where(c.created_at < where.until)
    if where.error is not None:
        pattern = f"%{where.error}%"
        query = query.where(c.error_type.like(pattern) | c.reason.like(pattern))
    if where.status is not None:
        query = query.where(c.status == where.status)
    return query


def _to_letter(row: Any) -> DeadLetter:
    values = dict(row)
    values["event"] = json.loads(values.pop("envelope"))
    for stamp in ("created_at", "updated_at"):
        if values[stamp].tzinfo is None:  # SQLite keeps no zone; we write UTC.
            values[stamp] = values[stamp].replace(tzinfo=UTC)
    return DeadLetter(**values)


__all__ = [
    "Attempt",
    "DeadLetter",
    "DeadLetterFilter",
    "Outcome",
    "discard",
    "get_dead_letter",
    "list_dead_letters",
    "record",
    "replay",
]
