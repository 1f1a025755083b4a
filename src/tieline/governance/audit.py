"""The audit log: append-only, each entry chained to the one before by an HMAC.

Operator's notes
----------------
Every write, approval, login failure, permission refusal, key issue, rotation
or revocation, role change and configuration change is one entry: who
(`actor`), what (`action` on `target`, with `outcome` and `details`), when
(`at`), from where (`source`, the client address) and the unit of work's
`correlation_id`. A business write and its entry commit in one transaction.

Chain. Entry n carries `mac = HMAC-SHA256(key, canonical(entry n fields,
prev_mac))` with `prev_mac` the mac of entry n-1. A keyed MAC rather than a
bare hash: with a bare hash, whoever can write the table can alter an entry
and recompute every hash after it, and the chain would still check; with an
HMAC they also need the audit key, which lives outside the database (the
`audit_key` secret). `seq` is assigned under a lock, gapless from 1, and is
inside the MAC, so a changed, deleted or reordered entry breaks the chain at
that entry.

Anchor. A chain cannot show that its newest entries were cut off. After each
commit the hub writes the head (seq and mac, itself MACed) to the anchor file
(`TIELINE_AUDIT_HEAD_FILE`), which an attacker of the database cannot rewrite
without also holding the host's files and the key; `tieline audit verify`
fails if the log ends before the anchor or disagrees with it.

Limits, honestly: whoever holds the audit key and the anchor file (an
administrator of the hub's host) can rewrite history undetectably; only
copies taken off the host (`tieline audit export` handed to auditors, or the
anchor shipped to write-once storage) defend against that. The anchor is
written after the commit, so a crash between the two leaves the anchor one
step behind (safe: verify then checks a shorter prefix). With processes on
several hosts, each host's anchor covers what that host wrote.

TODO: the audit key cannot be rotated yet (entries carry no key id), so a
leaked key means re-keying the whole chain by hand; a key id per entry and
`tieline audit rekey` are missing.

Concurrency: appends serialise on one lock row (`SELECT ... FOR UPDATE` on
PostgreSQL; the store's `BEGIN IMMEDIATE` on SQLite), held until the
transaction commits, so audited writes from all processes form one chain.
That lock is also the cost: audited writes commit one at a time.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tieline._context import current_correlation_id
from tieline.errors import ConfigurationError
from tieline.governance._schema import audit_lock, audit_log
from tieline.governance.identities import utc
from tieline.store import Store, Transaction

GENESIS = "0" * 64
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the log, as stored."""

    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target: str
    outcome: str
    source: str
    correlation_id: str
    details: str
    prev_mac: str
    mac: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for exports and the API."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["details"] = json.loads(self.details)
        return data


@dataclass(frozen=True, slots=True)
class Verification:
    """What `verify` found: intact, or the first bad entry and why."""

    entries: int
    head: int
    first_bad: int | None = None
    problem: str | None = None
    anchored: bool = False

    @property
    def intact(self) -> bool:
        """True when nothing was found wrong."""
        return self.problem is None


@dataclass(frozen=True, slots=True)
class Anchor:
    """The newest entry the hub is known to have committed."""

    seq: int
    mac: str


def _canonical_details(details: dict[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)


class AuditLog:
    """Appends to and verifies the audit log, with one key and one anchor file."""

    def __init__(self, key: bytes, *, anchor_file: Path | None = None) -> None:
        if len(key) < 16:
            raise ConfigurationError("the audit key must be at least 16 bytes")
        self._key = key
        self.anchor_file = anchor_file

    def mac(self, entry_fields: list[Any]) -> str:
        """HMAC-SHA256 over the canonical JSON of an entry's fields."""
        blob = json.dumps(entry_fields, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, blob.encode(), hashlib.sha256).hexdigest()

    def _entry_mac(self, entry: AuditEntry) -> str:
        return self.mac(
            [
                entry.seq,
                utc(entry.at).isoformat(),
                entry.actor,
                entry.actor_kind,
                entry.action,
                entry.target,
                entry.outcome,
                entry.source,
                entry.correlation_id,
                entry.details,
                entry.prev_mac,
            ]
        )

    def append(
        self,
        connection: Connection,
        *,
        actor: str,
        action: str,
        target: str,
        outcome: str = "ok",
        source: str = "-",
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Add one entry inside the caller's transaction, after the lock."""
        previous_seq, previous_mac = _lock_and_read_head(connection)
        draft = AuditEntry(
            seq=previous_seq + 1,
            at=datetime.now(UTC),
            actor=actor[:200],
            actor_kind=actor.partition(":")[0] if ":" in actor else "system",
            action=action,
            target=target[:300],
            outcome=outcome,
            source=source[:100],
            correlation_id=current_correlation_id(),
            details=_canonical_details(details),
            prev_mac=previous_mac,
            mac="",
        )
        entry = AuditEntry(**{**_fields(draft), "mac": self._entry_mac(draft)})
        connection.execute(insert(audit_log).values(**_fields(entry)))
        return entry

    @contextmanager
    def transaction(self, store: Store) -> Iterator[AuditedTransaction]:
        """A store transaction whose audit entries are anchored once committed."""
        audited = AuditedTransaction(self, None)
        with store.transaction() as tx:
            audited.tx = tx
            yield audited
        if audited.appended:
            self.advance_anchor(audited.appended[-1])

    def record(self, store: Store, **entry: Any) -> AuditEntry:
        """Append one entry in a transaction of its own, and anchor it."""
        with self.transaction(store) as audited:
            return audited.record(**entry)

    def advance_anchor(self, entry: AuditEntry) -> None:
        """Move the anchor file to `entry`, never backwards."""
        if self.anchor_file is None:
            return
        self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.anchor_file.with_name(self.anchor_file.name + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.read_anchor()
            if current is not None and current.seq >= entry.seq:
                return
            body = {"seq": entry.seq, "mac": entry.mac}
            body["check"] = self.mac(["anchor", entry.seq, entry.mac])
            temporary = self.anchor_file.with_name(self.anchor_file.name + ".tmp")
            temporary.write_text(json.dumps(body), encoding="utf-8")
            os.replace(temporary, self.anchor_file)

    def read_anchor(self) -> Anchor | None:
        """The anchor, None when there is no file; raises if it was forged."""
        if self.anchor_file is None or not self.anchor_file.exists():
            return None
        try:
            body = json.loads(self.anchor_file.read_text(encoding="utf-8"))
            anchor = Anchor(int(body["seq"]), str(body["mac"]))
            check = str(body["check"])
        except (ValueError, KeyError, TypeError) as err:
            raise AnchorForged("the anchor file is not readable") from err
        expected = self.mac(["anchor", anchor.seq, anchor.mac])
        if not hmac.compare_digest(check, expected):
            raise AnchorForged("the anchor file does not carry the audit key's mark")
        return anchor

    def entries(
        self, connection: Connection, *, after: int = 0
    ) -> Iterator[AuditEntry]:
        """Every entry after seq `after`, oldest first, read in batches."""
        while True:
            rows = connection.execute(
                select(audit_log)
                .where(audit_log.c.seq > after)
                .order_by(audit_log.c.seq)
                .limit(_BATCH)
            ).all()
            for row in rows:
                yield AuditEntry(**{**row._asdict(), "at": utc(row.at)})
            if len(rows) < _BATCH:
                return
            after = rows[-1].seq

    def verify(self, connection: Connection) -> Verification:
        """Check the whole chain and the anchor; names the first bad entry."""
        try:
            anchor = self.read_anchor()
        except AnchorForged as err:
            return Verification(0, 0, first_bad=0, problem=str(err))
        walk = _Walk()
        for entry in self.entries(connection):
            problem = self._check(entry, walk, anchor)
            if problem is not None:
                # A gap names the first missing entry; otherwise this one.
                bad = min(entry.seq, walk.seq + 1)
                return Verification(walk.count, walk.seq, bad, problem)
            walk.advance(entry)
        return self._check_end(walk, anchor)

    def _check(
        self, entry: AuditEntry, walk: _Walk, anchor: Anchor | None
    ) -> str | None:
        expected = walk.seq + 1
        if entry.seq != expected:
            return (
                f"entry {expected} is missing "
                f"(the log goes from {walk.seq} to {entry.seq})"
            )
        if not hmac.compare_digest(entry.mac, self._entry_mac(entry)):
            return f"entry {entry.seq} was altered or moved (its mac does not match)"
        if entry.prev_mac != walk.mac:
            return f"entry {entry.seq} does not follow entry {walk.seq} (reordered)"
        if anchor is not None and entry.seq == anchor.seq and entry.mac != anchor.mac:
            return f"entry {entry.seq} is not the one the anchor recorded"
        return None

    def _check_end(self, walk: _Walk, anchor: Anchor | None) -> Verification:
        if anchor is None:
            if walk.count and self.anchor_file is not None:
                return Verification(
                    walk.count,
                    walk.seq,
                    walk.seq + 1,
                    "the anchor file is missing, so removed newest entries "
                    "cannot be ruled out",
                )
            return Verification(walk.count, walk.seq)
        if walk.seq < anchor.seq:
            return Verification(
                walk.count,
                walk.seq,
                walk.seq + 1,
                f"entries {walk.seq + 1} to {anchor.seq} were removed "
                f"(the anchor records entry {anchor.seq})",
                anchored=True,
            )
        return Verification(walk.count, walk.seq, anchored=True)


class AnchorForged(Exception):
    """The anchor file is unreadable or was not written with the audit key."""


@dataclass
class _Walk:
    seq: int = 0
    mac: str = GENESIS
    count: int = 0

    def advance(self, entry: AuditEntry) -> None:
        self.seq, self.mac, self.count = entry.seq, entry.mac, self.count + 1


@dataclass
class AuditedTransaction:
    """A store transaction plus the audit entries it appends."""

    log: AuditLog
    tx: Transaction | None
    appended: list[AuditEntry] = field(default_factory=list)

    @property
    def transaction(self) -> Transaction:
        """The store transaction."""
        if self.tx is None:
            raise RuntimeError("the transaction has not started")
        return self.tx

    def record(self, **entry: Any) -> AuditEntry:
        """Append one entry in this transaction."""
        appended = self.log.append(self.transaction.connection, **entry)
        self.appended.append(appended)
        return appended


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in AuditEntry.__slots__}


def _lock_and_read_head(connection: Connection) -> tuple[int, str]:
    # The lock row may be missing (a wiped table); re-create it without a race.
    if connection.dialect.name == "postgresql":
        connection.execute(pg_insert(audit_lock).values(id=1).on_conflict_do_nothing())
        connection.execute(
            select(audit_lock.c.id).where(audit_lock.c.id == 1).with_for_update()
        )
    elif connection.execute(select(audit_lock.c.id)).first() is None:
        # SQLite: BEGIN IMMEDIATE already holds the database's write lock.
        connection.execute(insert(audit_lock).values(id=1))
    head = connection.execute(
        select(audit_log.c.seq, audit_log.c.mac)
        .order_by(audit_log.c.seq.desc())
        .limit(1)
    ).first()
    return (0, GENESIS) if head is None else (int(head.seq), str(head.mac))
