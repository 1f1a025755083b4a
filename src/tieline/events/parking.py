"""Parked retries: events a consumer will try again later, kept in the store.

A failed event whose next attempt is further off than its consumer's
`park_after` is parked here rather than waited for in its lane (see
`tieline.events.consumers`), so the batch it came in is acknowledged and the
consumer's other subjects flow on. Per consumer and subject the rows form a
queue in the order they were parked: the first (the head) is retried when its
`next_attempt_at` comes; the rows behind it wait for their turn, and a new
event of a subject with parked rows is parked behind them instead of being
handled, so no event overtakes an older one of its subject.

A row keeps every failed attempt (time, error, class), so a retry, in any
worker, continues the count and the age where the last one stopped, and a
dead letter written from here holds them all.

Several workers: a retry claims its row with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (one worker per row; a worker that dies releases it with its
connection) and inside SQLite's single write transaction; the inbox drops a
repeat either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from tieline.store import Store, as_utc
from tieline.store._schema import parked_retries

_DIALECTS: dict[str, Any] = {"postgresql": postgresql, "sqlite": sqlite}
_SUBJECTS_PER_QUERY = 500
_p = parked_retries
_earlier = parked_retries.alias("earlier")

# The head of its subject: no row of the same consumer and subject before it.
_IS_HEAD = ~exists().where(
    _earlier.c.consumer == _p.c.consumer,
    _earlier.c.subject == _p.c.subject,
    _earlier.c.id < _p.c.id,
)
# Due: its retry time came, or (behind another until now) it never failed.
_IS_DUE = or_(_p.c.next_attempt_at.is_(None), _p.c.next_attempt_at <= bindparam("now"))


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """One parked event: where it waits, and its failed attempts so far."""

    id: int
    consumer: str
    event: dict[str, Any]
    attempts: list[dict[str, str]]
    parked_at: datetime
    next_attempt_at: datetime | None

    @property
    def subject(self) -> str:
        """The event's subject (its business key)."""
        return str(self.event["subject"])


@dataclass(frozen=True, slots=True)
class ParkedSummary:
    """What one consumer has parked: for an operator's overview."""

    consumer: str
    parked: int
    subjects: int
    next_attempt_at: datetime | None
    oldest_parked_at: datetime


def park(
    connection: Connection,
    consumer: str,
    events: Sequence[dict[str, Any]],
    *,
    now: datetime,
    attempts: Sequence[dict[str, str]] = (),
    retry_at: datetime | None = None,
) -> None:
    """Park `events`, in order, behind what their subjects already parked.

    The first event carries its failed `attempts` and is retried at
    `retry_at` once it heads its subject; the others wait for their turn. An
    event this consumer has parked already is left where it is (a batch
    served again after a crash parks nothing twice).
    """
    rows = [
        {
            "consumer": consumer,
            "event_id": event["id"],
            "event_type": event["type"],
            "subject": event["subject"],
            "envelope": json.dumps(event, sort_keys=True),
            "attempts": list(attempts) if n == 0 else [],
            "parked_at": now,
            "next_attempt_at": retry_at if n == 0 else None,
        }
        for n, event in enumerate(events)
    ]
    if rows:
        # One statement, executed row by row in order: ids follow the order.
        connection.execute(_PARK[connection.dialect.name], rows)


def parked_subjects(
    connection: Connection, consumer: str, subjects: Sequence[str]
) -> set[str]:
    """Which of `subjects` have events parked for `consumer`."""
    found: set[str] = set()
    unique = list(dict.fromkeys(subjects))
    for start in range(0, len(unique), _SUBJECTS_PER_QUERY):
        chunk = unique[start : start + _SUBJECTS_PER_QUERY]
        found.update(
            connection.execute(
                _PARKED_SUBJECTS, {"consumer": consumer, "subjects": chunk}
            ).scalars()
        )
    return found


def due(connection: Connection, consumer: str, now: datetime, limit: int) -> list[int]:
    """Ids of `consumer`'s rows that head their subject and are due, oldest first."""
    values = {"consumer": consumer, "now": now, "limit": limit}
    return list(connection.execute(_DUE, values).scalars())


def claim(
    connection: Connection, consumer: str, row_id: int, now: datetime
) -> ParkedEvent | None:
    """Lock the row for this transaction if it is still a due head, else None.

    None also when another worker holds it (PostgreSQL skips locked rows).
    """
    query = _CLAIM_POSTGRES if connection.dialect.name == "postgresql" else _CLAIM
    values = {"consumer": consumer, "row_id": row_id, "now": now}
    row = connection.execute(query, values).first()
    return None if row is None else _parked(row._mapping)


def behind(connection: Connection, head: ParkedEvent) -> list[ParkedEvent]:
    """The rows waiting behind `head`, in order, locked for this transaction."""
    query = (
        select(_p)
        .where(
            _p.c.consumer == head.consumer,
            _p.c.subject == head.subject,
            _p.c.id > head.id,
        )
        .order_by(_p.c.id)
        .with_for_update()
    )
    return [_parked(row._mapping) for row in connection.execute(query)]


def reschedule(
    connection: Connection,
    row_id: int,
    attempts: Sequence[dict[str, str]],
    retry_at: datetime,
) -> None:
    """Record the row's attempts so far and when to try it next."""
    connection.execute(
        update(_p)
        .where(_p.c.id == row_id)
        .values(attempts=list(attempts), next_attempt_at=retry_at)
    )


def release(connection: Connection, row_ids: Sequence[int]) -> None:
    """Remove rows that were handled or dead-lettered."""
    if row_ids:
        connection.execute(delete(_p).where(_p.c.id.in_(list(row_ids))))


def summarise(store: Store) -> list[ParkedSummary]:
    """Per consumer: how many events are parked, over how many subjects, since when."""
    query = (
        select(
            _p.c.consumer,
            func.count().label("parked"),
            func.count(_p.c.subject.distinct()).label("subjects"),
            func.min(_p.c.next_attempt_at).label("next_attempt_at"),
            func.min(_p.c.parked_at).label("oldest_parked_at"),
        )
        .group_by(_p.c.consumer)
        .order_by(_p.c.consumer)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        ParkedSummary(
            consumer=row.consumer,
            parked=int(row.parked),
            subjects=int(row.subjects),
            next_attempt_at=_utc(row.next_attempt_at),
            oldest_parked_at=as_utc(row.oldest_parked_at),
        )
        for row in rows
    ]


def list_parked(store: Store, consumer: str, *, limit: int = 100) -> list[ParkedEvent]:
    """`consumer`'s parked events, oldest first (heads and those behind them)."""
    query = select(_p).where(_p.c.consumer == consumer).order_by(_p.c.id).limit(limit)
    with store.engine.connect() as connection:
        return [_parked(row._mapping) for row in connection.execute(query)]


def _parked(row: Any) -> ParkedEvent:
    return ParkedEvent(
        id=int(row["id"]),
        consumer=row["consumer"],
        event=json.loads(row["envelope"]),
        attempts=list(row["attempts"]),
        parked_at=as_utc(row["parked_at"]),
        next_attempt_at=_utc(row["next_attempt_at"]),
    )


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


# Built once and executed with parameters, as the inbox's statements are.


def _park_statement(dialect: Any) -> Any:
    return dialect.insert(_p).on_conflict_do_nothing(
        index_elements=["consumer", "event_id"]
    )


_PARK = {name: _park_statement(d) for name, d in _DIALECTS.items()}
_PARKED_SUBJECTS = (
    select(_p.c.subject)
    .distinct()
    .where(
        _p.c.consumer == bindparam("consumer"),
        _p.c.subject.in_(bindparam("subjects", expanding=True)),
    )
)
_DUE = (
    select(_p.c.id)
    .where(_p.c.consumer == bindparam("consumer"), _IS_DUE, _IS_HEAD)
    .order_by(_p.c.id)
    .limit(bindparam("limit"))
)
_CLAIM = select(_p).where(
    _p.c.consumer == bindparam("consumer"),
    _p.c.id == bindparam("row_id"),
    _IS_DUE,
    _IS_HEAD,
)
# SKIP LOCKED: a row another worker is retrying is not waited for.
_CLAIM_POSTGRES = _CLAIM.with_for_update(skip_locked=True, of=_p)


__all__ = [
    "ParkedEvent",
    "ParkedSummary",
    "behind",
    "claim",
    "due",
    "list_parked",
    "park",
    "parked_subjects",
    "release",
    "reschedule",
    "summarise",
]
