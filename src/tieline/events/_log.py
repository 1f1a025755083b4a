"""Reading the outbox as an ordered log, safely on SQLite and on PostgreSQL.

A reader keeps a `Position` (transaction id, seq) and reads what lies after it.

Why the transaction id: on PostgreSQL a row's `seq` is taken at insert but the
row becomes visible at commit, so a slow transaction can commit seq 5 after a
reader moved past seq 6 and the reader would never see it. Each outbox row
therefore carries the id of the transaction that wrote it (a column default,
migration 0002); readers order by (txid, seq) and read only rows whose
transaction is older than the oldest one still running
(`pg_snapshot_xmin(pg_current_snapshot())`). Every transaction below that line
has finished, so the set of rows below it can no longer grow, and a position
in it never skips a row. The cost: transaction ids are server-wide, so any
transaction on the same PostgreSQL server (any database) that is still open
holds every reader back until it ends: events are delayed, never lost. Give
tieline a server without long-running transactions, or set
`idle_in_transaction_session_timeout`, to keep relay lag low.

TODO: narrowing the horizon to this database's writers would free the relay
from other databases' long transactions; until then a report that runs for
minutes on the same server delays every event by as long.

SQLite has one writer at a time (`BEGIN IMMEDIATE`), so commit order is seq
order there and the transaction id stays NULL (read as 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.expression import ColumnClause

from tieline.store._schema import outbox

# The oldest transaction still running, as a number comparable with `txid`.
_HORIZON: ColumnClause[Any] = literal_column(
    "(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"
)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a reader stands in the outbox: after this (txid, seq)."""

    txid: int = 0
    seq: int = 0


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One outbox event as read from the log, with its position."""

    position: Position
    event: dict[str, Any]


def read_after(
    connection: Connection,
    position: Position,
    limit: int,
    patterns: Sequence[str] = (),
) -> list[LogEntry]:
    """Up to `limit` committed events after `position`, in log order.

    `patterns` (NATS-style: `*` one token, `>` the rest) narrow the event types;
    empty means every event.
    """
    query = _query(connection.dialect.name, tuple(patterns))
    values = {"txid": position.txid, "seq": position.seq, "limit": limit}
    entries = [
        LogEntry(Position(int(row.txid), int(row.seq)), json.loads(row.envelope))
        for row in connection.execute(query, values)
    ]
    # LIKE is a superset (`_` and `%` match more than a token); refine here.
    return [e for e in entries if not patterns or matches(e.event["type"], patterns)]


@lru_cache(maxsize=64)
def _query(dialect: str, patterns: tuple[str, ...]) -> Select[Any]:
    """The read, shaped so the database walks an index from the position.

    An earlier form compared `coalesce(txid, 0)`, which no index serves: every
    read scanned and sorted the whole outbox, about 30 ms a read at 40,000
    events on SQLite, with the database's write lock held.
    """
    if dialect == "postgresql":
        after = tuple_(outbox.c.txid, outbox.c.seq) > tuple_(
            bindparam("txid"), bindparam("seq")
        )
        query = (
            select(outbox.c.txid, outbox.c.seq, outbox.c.envelope)
            .where(after, outbox.c.txid < _HORIZON)
            .order_by(outbox.c.txid, outbox.c.seq)
        )
    else:
        # txid stays NULL and seq is commit order: one writer at a time.
        query = (
            select(literal(0).label("txid"), outbox.c.seq, outbox.c.envelope)
            .where(outbox.c.seq > bindparam("seq"))
            .order_by(outbox.c.seq)
        )
    if patterns:
        query = query.where(or_(*(outbox.c.type.like(_like(p)) for p in patterns)))
    return query.limit(bindparam("limit"))


def matches(event_type: str, patterns: Sequence[str]) -> bool:
    """Whether `event_type` matches any of the NATS-style subject patterns."""
    return any(_match_one(event_type.split("."), p.split(".")) for p in patterns)


def _match_one(tokens: list[str], pattern: list[str]) -> bool:
    for index, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > index
        if index >= len(tokens) or part not in ("*", tokens[index]):
            return False
    return len(tokens) == len(pattern)


def _like(pattern: str) -> str:
    return pattern.replace(">", "%").replace("*", "%")
