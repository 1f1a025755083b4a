"""Inbound webhooks: verify on the raw bytes, write to a durable inbox, answer.

Operator's notes
----------------
Each sender is a *source* (`add_source`) with a scheme and a secret:

- `standard`: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
  `webhook-signature`); the timestamp must be within `tolerance` seconds of
  now, and the message is de-duplicated by `webhook-id`.
- `hmac`: HMAC-SHA256 of the raw body with the secret, hex, in
  `signature_header` (default `x-signature`, with or without a `sha256=`
  prefix); de-duplicated by `id_header` when the sender sends one, else by the
  SHA-256 of the body. There is no timestamp in this scheme, so a replay is
  stopped only by de-duplication.
- `token`: for senders that cannot sign, such as Odoo's "Send Webhook
  Notification" action: the secret is a token in the URL
  (`/hooks/<source>/<token>`) or in the `x-tieline-token` header. Odoo sends
  no id, and sends identical notifications several times for one change (14
  for one partner create), so the key is the SHA-256 of the body. Odoo's body
  is `json.dumps(..., sort_keys=True)`, so repeats are byte-identical.

A request is checked in this order, on the raw bytes, before anything parses
it: known source, size, credentials, timestamp. A refused request gets a 401
(or 404 for an unknown source, 413 for a body over the limit), is counted in
`tieline_inbound_refused_total{source,reason}`, and nothing of it is stored.
A verified request is written to `inbound_messages` with a
`tieline.inbound.received` event in the outbox, committed, then answered 202
(or 200 `duplicate` when its key was seen before: a sender retrying after a
lost answer must not be told it failed). Commits are grouped: one writer
thread commits whatever arrived while the previous commit ran, so many
senders share one commit.

The work is done after the answer by the `inbound` consumer, inside its
transaction:

- a source bound to a processor (`add_source(..., processor=NAME)`, for a
  name some part declared with `declare_processor`, such as the Odoo
  connector's `odoo`) has its messages run through the processor registered
  under that name in the worker (`register_processor`); a worker that runs
  no such processor dead-letters them with that reason, to be replayed from
  a worker that does;
- a source with no bound processor uses one registered under its own name,
  if any (how `tieline serve` binds `odoo-<instance>`);
- otherwise the message is *forwarded*: its `tieline.inbound.received`
  event (data: `source`, `inbound_id` and the body: `body` for JSON,
  `body_base64` otherwise, only `body_size` above 256 KiB; subject
  `inbound/<source>/<inbound id>`) is the result. The message is marked
  `forwarded` and logged at info (`inbound.forwarded`); outbound endpoints
  subscribed to that type, with the filter `source` to pick one sender, and
  other consumers route it. This is what a source added by
  `tieline hooks add-source` does unless bound.

Sources are managed with `tieline hooks add-source|sources|rotate-secret|
remove-source` or the `/v1/inbound-sources` routes. Rotating a secret keeps
the previous one verifying for an overlap (24 h by default), so a sender can
switch at its own pace. The receiver caches sources for `sources_ttl`
seconds (5). A change made in the same process (the API's routes) is seen
at once; one made in another process (the CLI, another API host) within
that time, except that a request failing verification re-reads the sources
(at most once a second), so a new secret is accepted within a second. A
source removed elsewhere may still be accepted for those 5 seconds.
Log lines: `inbound.source_added`, `inbound.secret_rotated`,
`inbound.source_removed`, `inbound.forwarded` (info; none holds a secret),
`inbound.refused` (info: source, reason).

TODO: a forwarded event carries the source and the inbox id, not the body;
no route reads an inbound message's body yet, so a subscriber that needs the
payload cannot get it from tieline.

TODO: the plain HMAC scheme has no timestamp, so a captured request replayed
after its key left the inbox (nothing removes keys today) would be refused as
a duplicate, but a sender that reuses ids would be silently dropped.

TODO: an Odoo record whose watched fields change and then change back sends a
body identical to an earlier one, which is dropped as a duplicate; include
`write_date` in the action's fields so every change has its own body.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from starlette.types import Receive, Scope, Send

from tieline._context import current_correlation_id, new_id
from tieline.delivery.signing import new_secret, webhook_for
from tieline.envelope import CloudEvent
from tieline.errors import (
    PermanentError,
    RecordNotFound,
    ValidationFailed,
)
from tieline.events.consumers import Consumer
from tieline.logging import get_logger
from tieline.store import Store, Transaction
from tieline.store._delivery_schema import inbound_messages, inbound_sources
from tieline.store._schema import outbox

log = get_logger(__name__)

RECEIVED_EVENT = "tieline.inbound.received"
CONSUMER_NAME = "inbound"
MAX_BODY = 1 << 20
# Bodies up to this size travel in their `tieline.inbound.received` event.
EVENT_BODY_LIMIT = 256 << 10
# Inbox states: waiting, done by a processor, or forwarded as its event only.
ACCEPTED_STATE, PROCESSED, FORWARDED = "accepted", "processed", "forwarded"
DEFAULT_OVERLAP = timedelta(hours=24)
# A source's name is a URL path segment: ASCII, so what the sender is told
# is what the receiver matches.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")

REFUSED = Counter(
    "tieline_inbound_refused",
    "Inbound webhook requests refused, by source and reason",
    ["source", "reason"],
)
ACCEPTED = Counter(
    "tieline_inbound_accepted", "Inbound webhooks accepted, by source", ["source"]
)
DUPLICATES = Counter(
    "tieline_inbound_duplicates",
    "Inbound webhooks answered as duplicates, by source",
    ["source"],
)


class Scheme(StrEnum):
    """How a source proves a request is its own."""

    STANDARD = "standard"
    HMAC = "hmac"
    TOKEN = "token"  # noqa: S105 - a scheme name, not a secret


@dataclass(frozen=True, slots=True)
class Source:
    """One sender of inbound webhooks."""

    name: str
    scheme: Scheme
    secret: str = dataclasses.field(repr=False)
    previous_secret: str | None = dataclasses.field(default=None, repr=False)
    tolerance: float = 300.0
    id_header: str | None = None
    signature_header: str | None = None
    processor: str | None = None
    previous_until: datetime | None = None
    created_at: datetime | None = None

    @property
    def path(self) -> str:
        """Where the sender posts, below the hub's address."""
        return f"/hooks/{self.name}"


class Refused(Exception):
    """A request failed verification; `reason` is a short label for counting."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An accepted inbound webhook as its processor sees it."""

    id: str
    source: str
    dedup_key: str
    body: bytes
    content_type: str | None
    received_at: datetime

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


# -- sources ------------------------------------------------------------------

# Processor names a source may be bound to, with what each does; declared by
# the parts that provide them (at import), known to every process.
_declared: dict[str, str] = {}
# Bumped by every change to a source made in this process, so this process's
# receivers see it at once rather than after their cache's time.
_generation = 0


class SourceExists(ValidationFailed):
    """A source of that name is already registered."""


def declare_processor(name: str, description: str) -> None:
    """Make `name` a processor a source may be bound to (`add_source`)."""
    _declared[name] = description


def known_processors() -> dict[str, str]:
    """Processor names a source may be bound to, with what each does."""
    return dict(_declared)


def check_name(name: str) -> None:
    """Refuse a name that cannot be a source (a URL path segment)."""
    if not _NAME.fullmatch(name):
        raise ValidationFailed(
            f"{name!r}: use ASCII letters, digits, '-' or '_', starting with a "
            "letter or digit, at most 63",
            record="source",
            field="name",
        )


def _check_processor(processor: str | None) -> None:
    if processor is not None and processor not in _declared:
        known = ", ".join(sorted(_declared)) or "none"
        raise ValidationFailed(
            f"no processor {processor!r} is known (known: {known}); leave it out "
            "to forward the messages as events",
            record="source",
            field="processor",
        )


def _changed() -> None:
    global _generation
    _generation += 1


def add_source(
    store: Store,
    name: str,
    scheme: Scheme,
    *,
    secret: str | None = None,
    tolerance: float = 300.0,
    id_header: str | None = None,
    signature_header: str | None = None,
    processor: str | None = None,
) -> Source:
    """Register a sender; the returned source holds its (generated) secret.

    Raises `ValidationFailed` naming the field (name, processor, tolerance),
    or `SourceExists`.
    """
    check_name(name)
    _check_processor(processor)
    if not 1 <= tolerance <= 86_400:
        raise ValidationFailed(
            f"{tolerance} s: use 1 to 86400 seconds", record="source", field="tolerance"
        )
    if secret is None:
        secret = new_secret() if scheme is Scheme.STANDARD else secrets.token_hex(32)
    now = datetime.now(UTC)
    source = Source(
        name,
        scheme,
        secret,
        tolerance=tolerance,
        id_header=id_header.lower() if id_header else None,
        signature_header=signature_header.lower() if signature_header else None,
        processor=processor,
        created_at=now,
    )
    try:
        with store.transaction() as tx:
            tx.connection.execute(
                insert(inbound_sources).values(
                    name=name,
                    scheme=scheme.value,
                    secret=secret,
                    tolerance=tolerance,
                    id_header=source.id_header,
                    signature_header=source.signature_header,
                    processor=processor,
                    created_at=now,
                )
            )
    except IntegrityError as err:
        if name in load_sources(store):
            raise SourceExists(
                f"a source named {name!r} already exists",
                record=f"source {name}",
                field="name",
            ) from err
        raise
    _changed()
    log.info("inbound.source_added", source=name, scheme=scheme.value)
    return source


def ensure_source(
    store: Store,
    name: str,
    scheme: Scheme,
    secret: str,
    *,
    processor: str | None = None,
) -> Source:
    """Make `name` a source of `scheme` with `secret`, whatever it was before.

    For sources whose secret comes from the settings (Odoo's webhook token):
    run at every start, it adds the source once and follows a changed secret
    (the old one stops working at once).
    """
    existing = load_sources(store).get(name)
    if existing is None:
        try:
            return add_source(store, name, scheme, secret=secret, processor=processor)
        except SourceExists:
            existing = load_sources(store)[name]  # another process added it
    if (
        existing.scheme is scheme
        and existing.secret == secret
        and existing.processor == processor
    ):
        return existing
    _check_processor(processor)
    with store.transaction() as tx:
        tx.connection.execute(
            update(inbound_sources)
            .where(inbound_sources.c.name == name)
            .values(
                scheme=scheme.value,
                secret=secret,
                previous_secret=None,
                previous_until=None,
                processor=processor,
            )
        )
    _changed()
    log.info("inbound.source_updated", source=name, scheme=scheme.value)
    return load_sources(store)[name]


def rotate_source_secret(
    store: Store,
    name: str,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    secret: str | None = None,
) -> Source:
    """Give the source a new secret; the old one verifies too until `overlap` ends.

    Returns the source with its new secret (show it once). Raises
    `RecordNotFound` for an unknown source.
    """
    now = datetime.now(UTC)
    with store.transaction() as tx:
        row = tx.connection.execute(
            select(inbound_sources).where(inbound_sources.c.name == name)
        ).first()
        if row is None:
            raise RecordNotFound("inbound source", name)
        scheme = Scheme(row.scheme)
        if secret is None:
            standard = scheme is Scheme.STANDARD
            secret = new_secret() if standard else secrets.token_hex(32)
        tx.connection.execute(
            update(inbound_sources)
            .where(inbound_sources.c.name == name)
            .values(
                secret=secret, previous_secret=row.secret, previous_until=now + overlap
            )
        )
    _changed()
    log.info("inbound.secret_rotated", source=name, overlap=str(overlap))
    return load_sources(store)[name]


def remove_source(store: Store, name: str) -> None:
    """Forget a source: its requests are refused (404) from now on.

    Its messages already accepted stay in the inbox and are still processed.
    Raises `RecordNotFound` for an unknown source.
    """
    with store.transaction() as tx:
        gone = tx.connection.execute(
            delete(inbound_sources).where(inbound_sources.c.name == name)
        ).rowcount
    if not gone:
        raise RecordNotFound("inbound source", name)
    _changed()
    log.info("inbound.source_removed", source=name)


def load_sources(store: Store) -> dict[str, Source]:
    """Every source, by name."""
    with store.read() as tx:
        rows = tx.connection.execute(select(inbound_sources)).all()
    return {row.name: _to_source(row) for row in rows}


def _to_source(row: Any) -> Source:
    return Source(
        row.name,
        Scheme(row.scheme),
        row.secret,
        row.previous_secret,
        row.tolerance,
        row.id_header,
        row.signature_header,
        processor=row.processor,
        previous_until=_utc(row.previous_until),
        created_at=_utc(row.created_at),
    )


def _utc(stamp: datetime | None) -> datetime | None:
    # SQLite keeps no zone; every stamp here was written in UTC.
    if stamp is None or stamp.tzinfo is not None:
        return stamp
    return stamp.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """A source as an operator lists it: settings and inbox counts, no secret."""

    name: str
    scheme: Scheme
    processor: str | None
    tolerance: float
    id_header: str | None
    signature_header: str | None
    created_at: datetime | None
    previous_until: datetime | None
    messages: dict[str, int]
    last_received_at: datetime | None


def summarise_sources(store: Store, name: str | None = None) -> list[SourceSummary]:
    """Every source (or the one named), by name, with its messages by state.

    The counts group the inbox by source and state: one pass over
    `inbound_messages`, which keeps every message ever accepted.
    """
    query = select(inbound_sources).order_by(inbound_sources.c.name)
    counts = select(
        inbound_messages.c.source,
        inbound_messages.c.status,
        func.count(),
        func.max(inbound_messages.c.received_at),
    ).group_by(inbound_messages.c.source, inbound_messages.c.status)
    if name is not None:
        query = query.where(inbound_sources.c.name == name)
        counts = counts.where(inbound_messages.c.source == name)
    with store.read() as tx:
        rows = tx.connection.execute(query).all()
        tallies = tx.connection.execute(counts).all()
    by_source: dict[str, dict[str, int]] = {}
    last: dict[str, datetime] = {}
    for source, status, count, latest in tallies:
        by_source.setdefault(source, {})[status] = int(count)
        latest = _utc(latest)
        if latest is not None and (source not in last or latest > last[source]):
            last[source] = latest
    return [_summary(_to_source(row), by_source, last) for row in rows]


def _summary(
    source: Source, counts: dict[str, dict[str, int]], last: dict[str, datetime]
) -> SourceSummary:
    return SourceSummary(
        name=source.name,
        scheme=source.scheme,
        processor=source.processor,
        tolerance=source.tolerance,
        id_header=source.id_header,
        signature_header=source.signature_header,
        created_at=source.created_at,
        previous_until=source.previous_until,
        messages=counts.get(source.name, {}),
        last_received_at=last.get(source.name),
    )


# -- verification -------------------------------------------------------------


def verify(
    source: Source,
    body: bytes,
    headers: dict[str, str],
    token: str | None = None,
    now: float | None = None,
) -> str:
    """Check a request on its raw bytes; returns its de-duplication key.

    `headers` has lower-case names. Raises `Refused` with a short reason.
    """
    if source.scheme is Scheme.STANDARD:
        return _verify_standard(source, body, headers, now or time.time())
    if source.scheme is Scheme.HMAC:
        _verify_hmac(source, body, headers)
        given = headers.get(source.id_header or "")
        return given[:128] if given else _digest(body)
    _verify_token(source, token or headers.get("x-tieline-token"))
    return _digest(body)


def _secrets(source: Source) -> list[str]:
    until = source.previous_until
    if source.previous_secret and (until is None or until > datetime.now(UTC)):
        return [source.secret, source.previous_secret]
    return [source.secret]


def _verify_standard(
    source: Source, body: bytes, headers: dict[str, str], now: float
) -> str:
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and stamp and signatures) or len(msg_id) > 128:
        raise Refused("missing_headers")
    try:
        sent = int(stamp)
        text = body.decode("utf-8")
    except ValueError as err:
        raise Refused("malformed") from err
    if abs(now - sent) > source.tolerance:
        raise Refused("stale_timestamp")
    when = datetime.fromtimestamp(sent, UTC)
    given = [s.partition(",")[2] for s in signatures.split(" ") if s.startswith("v1,")]
    for secret in _secrets(source):
        expected = webhook_for(secret).sign(msg_id, when, text).partition(",")[2]
        if any(hmac.compare_digest(expected, g) for g in given):
            return msg_id
    raise Refused("bad_signature")


def _verify_hmac(source: Source, body: bytes, headers: dict[str, str]) -> None:
    given = headers.get(source.signature_header or "x-signature", "")
    given = given.removeprefix("sha256=").strip().lower()
    if not given:
        raise Refused("missing_headers")
    for secret in _secrets(source):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return
    raise Refused("bad_signature")


def _verify_token(source: Source, token: str | None) -> None:
    if not token:
        raise Refused("missing_token")
    if not any(
        hmac.compare_digest(s.encode(), token.encode()) for s in _secrets(source)
    ):
        raise Refused("bad_token")


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


# -- the durable inbox, with group commit ----------------------------------


@dataclass(frozen=True, slots=True)
class _Pending:
    source: str
    key: str
    body: bytes
    content_type: str | None
    correlation_id: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[str | None]


class GroupCommitter:
    """Writes accepted messages and their events; one commit per group.

    `accept` blocks until the message is committed; returns the inbox id, or
    None for a duplicate. Many callers at once share one transaction.
    """

    def __init__(self, store: Store, *, max_group: int = 256) -> None:
        self.store = store
        self.max_group = max_group
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _ensure_started(self) -> None:
        # Started on first use, so building an app starts no thread.
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="inbound-commit", daemon=True
                )
                self._thread.start()

    async def accept(
        self, source: str, key: str, body: bytes, content_type: str | None
    ) -> str | None:
        """Commit one message (grouped with others); its id, or None if seen."""
        if self._thread is None:
            self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        self._queue.put(
            _Pending(
                source, key, body, content_type, current_correlation_id(), loop, future
            )
        )
        return await future

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                ids = self._write(group)
            except Exception as err:
                log.exception("inbound.commit_failed", count=len(group))
                _answer(group, [None] * len(group), err)
                continue
            _answer(group, ids, None)

    def _write(self, group: list[_Pending]) -> list[str | None]:
        """Insert the group's new keys; each item's id, or None for a repeat."""
        now = datetime.now(UTC)
        ids: list[str | None] = []
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for item in group:
            fresh = (item.source, item.key) not in rows
            if fresh:
                rows[(item.source, item.key)] = _inbox_row(item, now)
            ids.append(rows[(item.source, item.key)]["id"] if fresh else None)
        cause = {(i.source, i.key): i.correlation_id for i in reversed(group)}
        # Built before the first statement, so outside SQLite's writer lock;
        # a repeat's event is built and dropped.
        events = {
            row["id"]: _event_row(row, cause[key], now) for key, row in rows.items()
        }
        with self.store.transaction() as tx:
            statement = _insert(tx, inbound_messages).on_conflict_do_nothing()
            taken = {
                row.id
                for row in tx.connection.execute(
                    statement.returning(inbound_messages.c.id), list(rows.values())
                )
            }
            if taken:
                tx.connection.execute(
                    insert(outbox), [events[i] for i in events if i in taken]
                )
        return [i if i in taken else None for i in ids]


def _answer(
    group: list[_Pending], ids: list[str | None], error: BaseException | None
) -> None:
    """Wake the group's waiters: one call into each event loop, not one each.

    Profiled at 16 senders, a wake-up per request (a write to the loop's
    self-pipe each) cost about a tenth of the server's time.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
    for item, inbox_id in zip(group, ids, strict=True):
        by_loop.setdefault(item.loop, []).append((item.future, inbox_id))
    for loop, waiters in by_loop.items():
        loop.call_soon_threadsafe(_settle, waiters, error)


def _settle(waiters: list[Any], error: BaseException | None) -> None:
    for future, result in waiters:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _insert(tx: Transaction, table: Any) -> Any:
    dialect = postgresql if tx.connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _inbox_row(item: _Pending, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "source": item.source,
        "dedup_key": item.key,
        "body": item.body,
        "content_type": item.content_type,
        "received_at": now,
        "status": ACCEPTED_STATE,
    }


def _event_row(row: dict[str, Any], correlation: str, now: datetime) -> dict[str, Any]:
    event = CloudEvent(
        id=row["id"],
        type=RECEIVED_EVENT,
        # A subject per message, not per source: the backbone keeps one
        # subject's events in order, so a message whose processing waits
        # (an Odoo notification for a change Odoo then rolled back) would
        # hold every later message of its source behind it. Senders give
        # no order to keep: Odoo's processor reads the record's current
        # state, and Standard Webhooks promises no ordering.
        subject=f"inbound/{row['source']}/{row['id']}",
        data={
            "source": row["source"],
            "inbound_id": row["id"],
            **_body_fields(row["body"], row["content_type"]),
        },
        correlationid=correlation,
        time=now,
    )
    return {
        "event_id": event.id,
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "time": event.time,
        "correlation_id": event.correlationid,
        "causation_id": None,
        "envelope": event.to_json(),
    }


# -- the HTTP receiver (ASGI) -------------------------------------------------


class InboundReceiver:
    """The ASGI app behind `/hooks/<source>[/<token>]`: verify, commit, answer."""

    def __init__(
        self,
        store: Store,
        *,
        max_body: int = MAX_BODY,
        committer: GroupCommitter | None = None,
        sources_ttl: float = 5.0,
    ) -> None:
        self.store = store
        self.max_body = max_body
        self.committer = committer or GroupCommitter(store)
        self.sources_ttl = sources_ttl
        self._sources: dict[str, Source] = {}
        self._loaded = 0.0
        self._generation = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status, payload = await self._handle(scope, receive)
        body = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        name, token = _route(scope)
        source = await self._source(name)
        if scope["method"] != "POST":
            return 405, {"status": "error", "detail": "POST only"}
        try:
            if source is None:
                raise Refused("unknown_source", 404)
            body = await _read_body(receive, self.max_body)
            headers = {
                k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
            }
            key = await self._verify(source, body, headers, token)
            _validate(body, headers.get("content-type"))
        except Refused as refusal:
            label = name if source is not None else "unknown"
            REFUSED.labels(label, refusal.reason).inc()
            log.info("inbound.refused", source=label, reason=refusal.reason)
            return refusal.status, {"status": "refused", "reason": refusal.reason}
        inbox_id = await self.committer.accept(
            name, key, body, headers.get("content-type")
        )
        if inbox_id is None:
            DUPLICATES.labels(name).inc()
            return 200, {"status": "duplicate"}
        ACCEPTED.labels(name).inc()
        return 202, {"status": "accepted", "id": inbox_id}

    async def _source(self, name: str) -> Source | None:
        since = time.monotonic() - self._loaded
        if (
            since > self.sources_ttl
            or self._generation != _generation
            or (name not in self._sources and since > 1)
        ):
            await self._reload()
        return self._sources.get(name)

    async def _reload(self) -> None:
        generation = _generation
        self._sources = await asyncio.to_thread(load_sources, self.store)
        self._loaded = time.monotonic()
        self._generation = generation

    async def _verify(
        self, source: Source, body: bytes, headers: dict[str, str], token: str | None
    ) -> str:
        """`verify`, once more on fresh sources if it failed on cached ones.

        A secret rotated in another process would otherwise be refused until
        the cache expires; re-reading at most once a second bounds what a
        stream of bad requests costs the database.
        """
        try:
            return verify(source, body, headers, token)
        except Refused as refusal:
            if (
                refusal.reason == "stale_timestamp"
                or time.monotonic() - self._loaded <= 1
            ):
                raise
        await self._reload()
        fresh = self._sources.get(source.name)
        if fresh is None:
            raise Refused("unknown_source", 404)
        return verify(fresh, body, headers, token)


def _route(scope: Scope) -> tuple[str, str | None]:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    parts = [p for p in path.split("/") if p]
    name = parts[0] if parts else ""
    return name, parts[1] if len(parts) > 1 else None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused("too_large", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _validate(body: bytes, content_type: str | None) -> None:
    """A JSON body must parse; checked only after the signature held.

    Strict JSON: `NaN` and `Infinity` (which Python's parser takes) are
    refused, and so is nesting deeper than the parser can follow (a
    `RecursionError`, which was a 500 a sender would retry for ever).
    """
    if _is_json(content_type):
        try:
            _parse(body)
        except (ValueError, RecursionError) as err:
            raise Refused("not_json", 400) from err


def _is_json(content_type: str | None) -> bool:
    return content_type is None or "json" in content_type


def _parse(body: bytes) -> Any:
    return json.loads(body, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _body_fields(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The message's body as its event carries it, or why it does not.

    A subscriber (an outbound endpoint, a consumer) gets what the sender
    sent without another call: JSON as JSON, anything else in base64. A
    body over `EVENT_BODY_LIMIT` stays in the inbox only (`body_size`).
    """
    if len(body) > EVENT_BODY_LIMIT:
        return {"body_size": len(body)}
    if _is_json(content_type):
        return {"body": _parse(body)}
    return {"body_base64": base64.b64encode(body).decode("ascii")}


# -- the consumer that does the work ------------------------------------------

Processor = Callable[[Transaction, InboundMessage], None]
_processors: dict[str, Processor] = {}


class ProcessorMissing(PermanentError):
    """A source is bound to a processor this worker does not run."""

    def __init__(self, source: str, processor: str) -> None:
        super().__init__(
            f"source {source} is bound to the processor {processor}, which this "
            "worker does not run; replay from a worker that runs it"
        )
        self.source = source
        self.processor = processor


def register_processor(name: str, processor: Processor) -> None:
    """Run `processor(tx, message)` in this worker for the messages of `name`.

    `name` is a processor name sources are bound to, or a source's own name.
    """
    _processors[name] = processor


def unregister_processor(name: str) -> None:
    """Forget the processor registered under `name`, if any."""
    _processors.pop(name, None)


def reset_processors() -> None:
    """Forget every processor (tests)."""
    _processors.clear()


def process_inbound(tx: Transaction, event: dict[str, Any]) -> None:
    """Hand an accepted message to its source's processor, once; or forward it.

    A message whose source has no processor is done once its event is out:
    it is marked `forwarded`, not dead-lettered.
    """
    inbox_id = event["data"]["inbound_id"]
    row = tx.connection.execute(
        select(inbound_messages, inbound_sources.c.processor)
        .select_from(
            inbound_messages.outerjoin(
                inbound_sources, inbound_sources.c.name == inbound_messages.c.source
            )
        )
        .where(inbound_messages.c.id == inbox_id)
    ).first()
    if row is None:
        raise RecordNotFound("inbound message", inbox_id)
    processor = _processor_for(row.source, row.processor)
    if processor is None:
        _mark(tx, inbox_id, FORWARDED)
        log.info("inbound.forwarded", source=row.source, inbound_id=inbox_id)
        return
    received = row.received_at
    message = InboundMessage(
        row.id,
        row.source,
        row.dedup_key,
        row.body,
        row.content_type,
        received if received.tzinfo else received.replace(tzinfo=UTC),
    )
    processor(tx, message)
    _mark(tx, inbox_id, PROCESSED)


def _processor_for(source: str, bound: str | None) -> Processor | None:
    """The processor a source's messages go through here; None forwards them."""
    if bound is None:
        return _processors.get(source)
    processor = _processors.get(bound)
    if processor is None:
        raise ProcessorMissing(source, bound)
    return processor


def _mark(tx: Transaction, inbox_id: str, state: str) -> None:
    tx.connection.execute(
        update(inbound_messages)
        .where(inbound_messages.c.id == inbox_id)
        .values(status=state, processed_at=datetime.now(UTC))
    )


def inbound_consumer() -> Consumer:
    """The durable consumer that processes accepted inbound webhooks."""
    return Consumer(CONSUMER_NAME, (RECEIVED_EVENT,), process_inbound)
