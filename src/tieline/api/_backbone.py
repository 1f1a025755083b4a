"""Routes over the backbone: the outbox's events, dead letters, parked retries,
and the process's metrics.

Integration operators and admins read and act; auditors read only; every
other role, partners included, is refused (see `_access`). Lists page with
an opaque cursor over the table's sequence, so events written meanwhile
never repeat or shift a page. Replaying a dead letter runs its consumer's
handler through the inbox, as live delivery does, so an event handled
already is not handled twice; replays and discards are audited.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Column, Select, select, update

from tieline.api._access import require_backbone
from tieline.api._auth import ApiContext, Caller, api_context, client_address
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.errors import ValidationFailed
from tieline.events import deadletters, parking
from tieline.events._inbox import Handler
from tieline.governance.identities import Principal
from tieline.governance.secrets import scrub
from tieline.store._schema import dead_letters, outbox

router = APIRouter(prefix="/v1")
EventId = Annotated[str, Path(min_length=1, max_length=36)]
LetterId = Annotated[int, Path(ge=1, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=200)]
CursorText = Annotated[str | None, Query(max_length=100)]
Text100 = Annotated[str | None, Query(min_length=1, max_length=100)]
Text200 = Annotated[str | None, Query(min_length=1, max_length=200)]


class EventOut(BaseModel):
    """One event of the outbox (CloudEvents attributes plus its data)."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    correlation_id: str
    causation_id: str | None
    data: Any


class EventPage(BaseModel):
    """One page of events, oldest first."""

    items: list[EventOut]
    next_cursor: str | None


class DeadLetterOut(BaseModel):
    """One dead letter: the event, every attempt, and what became of it."""

    id: int
    consumer: str
    event_id: str
    event_type: str
    subject: str
    project_id: str | None
    reason: str
    error_type: str
    status: str
    note: str | None
    resolved_by: str | None
    attempts: list[dict[str, str]]
    event: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DeadLetterPage(BaseModel):
    """One page of dead letters, oldest first."""

    items: list[DeadLetterOut]
    next_cursor: str | None


class ParkedOut(BaseModel):
    """What one consumer parked to retry later (see `tieline.events.parking`)."""

    consumer: str
    parked: int = Field(description="Events parked, heads and those behind them.")
    subjects: int = Field(description="Records (subjects) they belong to.")
    next_attempt_at: datetime | None = Field(
        description="The earliest retry scheduled, if any is."
    )
    oldest_parked_at: datetime


class ParkedList(BaseModel):
    """Parked retries per consumer, by consumer name."""

    items: list[ParkedOut]


class ReplayOut(BaseModel):
    """What the replay did: `handled`, `duplicate`, `stale` or `failed: ...`."""

    id: int
    outcome: str
    status: str


class DiscardIn(BaseModel):
    """Why the dead letter is closed without being handled."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)

    @field_validator("note")
    @classmethod
    def _not_blank(cls, note: str) -> str:
        if not note.strip():
            raise ValueError("a discard needs a note saying why")
        return note.strip()


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{position}".encode()).decode().rstrip("=")


def _decode(text: str) -> int:
    try:
        padded = text + "=" * (-len(text) % 4)
        name, _, value = base64.urlsafe_b64decode(padded).decode().partition(":")
        if name != "seq":
            raise ValueError(name)
        return int(value)
    except (ValueError, UnicodeDecodeError, binascii.Error) as err:
        message = "not a cursor this API issued"
        raise Problem(
            400,
            f"cursor: {message}",
            errors=[FieldError(field="cursor", message=message)],
        ) from err


def _page(
    context: ApiContext, query: Select[Any], key: Column[Any], cursor: str | None
) -> list[Any]:
    """Rows after `cursor`, in `key` order."""
    if cursor is not None:
        query = query.where(key > _decode(cursor))
    with context.store.read() as tx:
        return list(tx.connection.execute(query.order_by(key)).all())


def _utc(stamp: datetime) -> datetime:
    # SQLite keeps no zone; tieline writes UTC.
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _event(row: Any) -> EventOut:
    envelope = json.loads(row.envelope)
    return EventOut(
        id=row.event_id,
        type=row.type,
        source=row.source,
        subject=row.subject,
        time=_utc(row.time),
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        data=envelope.get("data"),
    )


def _pattern(column: Column[Any], value: str) -> Any:
    # `*` is a wildcard, as in the CLI's filters; anything else is exact.
    if "*" in value:
        return column.like(value.replace("*", "%"))
    return column == value


@router.get(
    "/events",
    response_model=EventPage,
    tags=["events"],
    summary="List the outbox's events",
    operation_id="list_events",
    responses=problem_responses(400, 401, 403, 422, 429),
)
def list_events(
    request: Request,
    caller: Caller,
    limit: Limit = 50,
    cursor: CursorText = None,
    event_type: Annotated[
        str | None, Query(alias="type", min_length=1, max_length=120)
    ] = None,
    subject: Text200 = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> EventPage:
    """Events oldest first; `type` takes `*` wildcards, times bound `time`."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target="events")
    query = select(outbox)
    if event_type is not None:
        query = query.where(_pattern(outbox.c.type, event_type))
    if subject is not None:
        query = query.where(outbox.c.subject == subject)
    if since is not None:
        query = query.where(outbox.c.time >= _utc(since))
    if until is not None:
        query = query.where(outbox.c.time < _utc(until))
    rows = _page(context, query.limit(limit + 1), outbox.c.seq, cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(
        items=[_event(row) for row in rows],
        next_cursor=_encode(rows[-1].seq) if more else None,
    )


@router.get(
    "/events/{event_id}",
    response_model=EventOut,
    tags=["events"],
    summary="Read one event",
    operation_id="read_event",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_event(request: Request, caller: Caller, event_id: EventId) -> EventOut:
    """One event by its id."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target="events")
    with context.store.read() as tx:
        row = tx.connection.execute(
            select(outbox).where(outbox.c.event_id == event_id)
        ).first()
    if row is None:
        raise Problem(404, f"no event {event_id}")
    return _event(row)


def _letter(row: Any) -> DeadLetterOut:
    values = dict(row._mapping)
    values["event"] = json.loads(values.pop("envelope"))
    values["created_at"] = _utc(values["created_at"])
    values["updated_at"] = _utc(values["updated_at"])
    return DeadLetterOut.model_validate(values)


@router.get(
    "/dead-letters",
    response_model=DeadLetterPage,
    tags=["dead-letters"],
    summary="List dead letters",
    operation_id="list_dead_letters",
    responses=problem_responses(400, 401, 403, 422, 429),
)
def list_letters(
    request: Request,
    caller: Caller,
    limit: Limit = 50,
    cursor: CursorText = None,
    consumer: Text100 = None,
    event_type: Annotated[
        str | None, Query(alias="type", min_length=1, max_length=120)
    ] = None,
    project_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    error: Text200 = None,
    status: Annotated[str | None, Query(pattern="^(open|replayed|discarded)$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DeadLetterPage:
    """Dead letters oldest first; `error` matches the error type or reason."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target="dead letters")
    c = dead_letters.c
    query = select(dead_letters)
    for column, value in ((c.consumer, consumer), (c.project_id, project_id)):
        if value is not None:
            query = query.where(column == value)
    if event_type is not None:
        query = query.where(_pattern(c.event_type, event_type))
    if error is not None:
        query = query.where(c.error_type.contains(error) | c.reason.contains(error))
    if status is not None:
        query = query.where(c.status == status)
    if since is not None:
        query = query.where(c.created_at >= _utc(since))
    if until is not None:
        query = query.where(c.created_at < _utc(until))
    rows = _page(context, query.limit(limit + 1), c.id, cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    return DeadLetterPage(
        items=[_letter(row) for row in rows],
        next_cursor=_encode(rows[-1].id) if more else None,
    )


@router.get(
    "/parked-retries",
    response_model=ParkedList,
    tags=["dead-letters"],
    summary="Count the events consumers parked to retry later",
    operation_id="list_parked_retries",
    responses=problem_responses(401, 403, 429),
)
def list_parked(request: Request, caller: Caller) -> ParkedList:
    """Per consumer: events parked, over how many records, the next retry.

    A parked event is retried when due, and the events of its record wait
    behind it; it becomes a dead letter when its retry policy gives up.
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target="parked retries")
    return ParkedList(
        items=[
            ParkedOut(
                consumer=summary.consumer,
                parked=summary.parked,
                subjects=summary.subjects,
                next_attempt_at=summary.next_attempt_at,
                oldest_parked_at=summary.oldest_parked_at,
            )
            for summary in parking.summarise(context.store)
        ]
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    tags=["events"],
    summary="This process's counters in Prometheus' text format",
    operation_id="read_metrics",
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 429),
    },
)
def read_metrics(request: Request, caller: Caller) -> PlainTextResponse:
    """Counters of the process that answers: inbound webhooks accepted,
    answered as duplicates and refused (by source and reason), and the rest
    of what the process registers.

    Scraped with a key of an integration operator or auditor (Prometheus'
    `authorization` setting). Each process counts its own: scrape every API
    process of a deployment.
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target="metrics")
    return PlainTextResponse(
        generate_latest().decode("utf-8"), media_type=CONTENT_TYPE_LATEST
    )


def _read_letter(context: ApiContext, letter_id: int) -> DeadLetterOut:
    with context.store.read() as tx:
        row = tx.connection.execute(
            select(dead_letters).where(dead_letters.c.id == letter_id)
        ).first()
    if row is None:
        raise Problem(404, f"no dead letter {letter_id}")
    return _letter(row)


@router.get(
    "/dead-letters/{letter_id}",
    response_model=DeadLetterOut,
    tags=["dead-letters"],
    summary="Read one dead letter",
    operation_id="read_dead_letter",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_letter(request: Request, caller: Caller, letter_id: LetterId) -> DeadLetterOut:
    """One dead letter with its event and every attempt."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target="dead letters")
    return _read_letter(context, letter_id)


def consumer_handlers(request: Request) -> Mapping[str, Handler]:
    """The handlers replays run: `app.state.consumer_handlers`, else the registry."""
    given: Mapping[str, Handler] | None = getattr(
        request.app.state, "consumer_handlers", None
    )
    if given is not None:
        return given
    from tieline.events.registry import registered

    return {name: consumer.handler for name, consumer in registered().items()}


def _not_open(letter: DeadLetterOut) -> Problem:
    return Problem(
        409,
        f"dead letter {letter.id} is {letter.status}, not open",
        errors=[FieldError(field="status", message=letter.status)],
    )


@router.post(
    "/dead-letters/{letter_id}/replay",
    response_model=ReplayOut,
    tags=["dead-letters"],
    summary="Replay a dead letter through its consumer's inbox",
    operation_id="replay_dead_letter",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def replay_letter(request: Request, caller: Caller, letter_id: LetterId) -> ReplayOut:
    """Run the event through its consumer once more; never handled twice.

    The handler commits in the inbox's own transaction, so the audit entry
    follows in a second one; a crash between them leaves the replay done and
    unaudited (the letter still names who resolved it).
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target="dead letters")
    letter = _read_letter(context, letter_id)
    if letter.status != deadletters.OPEN:
        raise _not_open(letter)
    try:
        outcome = deadletters.replay(
            context.store, consumer_handlers(request), letter_id, actor=caller.actor
        )
    except ValidationFailed as err:
        raise Problem(
            409,
            str(err),
            errors=[FieldError(field=err.field or "id", message=str(err))],
        ) from err
    outcome = scrub(outcome)
    _audit(context, request, caller, "deadletter.replayed", letter, outcome)
    status = _read_letter(context, letter_id).status
    return ReplayOut(id=letter_id, outcome=outcome, status=status)


def _audit(
    context: ApiContext,
    request: Request,
    caller: Principal,
    action: str,
    letter: DeadLetterOut,
    outcome: str,
) -> None:
    context.governance.audit.record(
        context.store,
        actor=caller.actor,
        action=action,
        target=f"dead_letter:{letter.id}",
        outcome="failed" if outcome.startswith("failed") else "ok",
        source=client_address(request),
        details={
            "consumer": letter.consumer,
            "event_id": letter.event_id,
            "outcome": outcome,
        },
    )


@router.post(
    "/dead-letters/{letter_id}/discard",
    response_model=DeadLetterOut,
    tags=["dead-letters"],
    summary="Discard a dead letter, with a note saying why",
    operation_id="discard_dead_letter",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def discard_letter(
    request: Request, caller: Caller, letter_id: LetterId, body: DiscardIn
) -> DeadLetterOut:
    """Close an open dead letter unhandled; the change and its audit commit as one."""
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target="dead letters")
    c = dead_letters.c
    with context.governance.audit.transaction(context.store) as audited:
        connection = audited.transaction.connection
        row = connection.execute(
            select(dead_letters).where(c.id == letter_id).with_for_update()
        ).first()
        if row is None:
            raise Problem(404, f"no dead letter {letter_id}")
        letter = _letter(row)
        if letter.status != deadletters.OPEN:
            raise _not_open(letter)
        connection.execute(
            update(dead_letters)
            .where(c.id == letter_id)
            .values(
                status=deadletters.DISCARDED,
                note=body.note,
                resolved_by=caller.actor,
                updated_at=datetime.now(UTC),
            )
        )
        audited.record(
            actor=caller.actor,
            action="deadletter.discarded",
            target=f"dead_letter:{letter_id}",
            source=client_address(request),
            details={"consumer": letter.consumer, "event_id": letter.event_id},
        )
    return _read_letter(context, letter_id)
