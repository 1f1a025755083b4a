"""Routes over outbound webhook messages: what each endpoint was sent, and how.

An operator sees an endpoint's messages (newest first, by state or since a
time), one message, and every attempt at it: when, the HTTP status, the
latency, the first bytes of the answer, the error. Nothing shown signs a
request: the attempt log keeps no request headers, and a secret or signature
a receiver echoes back is masked (`tieline.delivery.messages`).

`POST /v1/webhook-messages/{id}/resend` queues one message again with its
same `webhook-id`, so a receiver that de-duplicates takes it once; the
change and its audit entry commit as one, and `Idempotency-Key` makes a
retried request answer as the first did. Recovering a whole endpoint from a
point in time is `POST /v1/webhook-endpoints/{id}/recover` (`_webhooks`).

Roles are the backbone's (`_access`): integration operators and admins on
every legal entity read and re-send, auditors read, everyone else is refused
with 403, audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tieline.api import _idempotency as idempotency
from tieline.api._access import require_backbone
from tieline.api._auth import ApiContext, Caller, api_context, client_address
from tieline.api._pagination import Cursor, Sort, keyset
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.api._records import IdempotencyKey, Write, run_write
from tieline.delivery import endpoints as hooks
from tieline.delivery import messages as log_of
from tieline.errors import RecordNotFound
from tieline.governance.audit import AuditedTransaction
from tieline.governance.secrets import scrub
from tieline.store._delivery_schema import webhook_endpoints, webhook_messages

router = APIRouter(prefix="/v1", tags=["webhook-messages"])
EndpointId = Annotated[str, Path(min_length=1, max_length=36)]
MessageId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
CursorText = Annotated[str | None, Query(max_length=200)]
Status = Literal["pending", "delivered", "failed", "held"]
TARGET = "webhook messages"
# Newest first: the order an operator looks for what just went wrong in.
ORDER = Sort.CREATED_DESC


class MessageOut(BaseModel):
    """One event queued for one endpoint; `id` is its `webhook-id`."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    event_time: datetime
    status: Status = Field(
        description="pending (first try or a retry; see attempts), delivered, "
        "failed (its schedule ran out) or held (its endpoint is disabled)."
    )
    attempts: int
    next_attempt_at: datetime | None = Field(
        description="When it is tried next; only while pending."
    )
    last_error: str | None
    last_status_code: int | None = Field(
        description="The HTTP status of the latest attempt; null without an answer."
    )
    created_at: datetime
    delivered_at: datetime | None


class MessagePage(BaseModel):
    """One page of an endpoint's messages, newest first."""

    items: list[MessageOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    """One HTTP attempt at a message."""

    attempt: int
    started_at: datetime
    status_code: int | None = Field(description="Null when no answer came.")
    latency_ms: float
    outcome: Literal["delivered", "failed"]
    error: str | None
    response_excerpt: str | None = Field(
        description="The answer's first bytes (at most 512), signatures masked."
    )


class AttemptList(BaseModel):
    """Every attempt at one message, oldest first."""

    message_id: str
    items: list[AttemptOut]


class ResentOut(BaseModel):
    """The message queued again, and how many were queued (one)."""

    queued: int
    message: MessageOut


def to_out(message: log_of.Message) -> MessageOut:
    """The API's view of a message, with any secret this process knows masked."""
    shown = MessageOut.model_validate(message, from_attributes=True)
    if shown.last_error is not None:
        shown.last_error = scrub(shown.last_error)
    return shown


def _endpoint_exists(context: ApiContext, endpoint_id: str) -> None:
    with context.store.read() as tx:
        found = tx.connection.execute(
            webhook_endpoints.select().where(webhook_endpoints.c.id == endpoint_id)
        ).first()
    if found is None:
        raise Problem(404, f"no webhook endpoint {endpoint_id}")


def _page(
    context: ApiContext,
    endpoint_id: str,
    status: str | None,
    since: datetime | None,
    cursor: Cursor | None,
    limit: int,
) -> MessagePage:
    c = webhook_messages.c
    query = log_of.messages_query(endpoint_id, status=status, since=since)
    query = keyset(query, ORDER, c.created_at, c.message_id, cursor)
    with context.store.read() as tx:
        rows = tx.connection.execute(query.limit(limit + 1)).all()
        found = log_of.to_messages(tx.connection, rows[:limit])
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return MessagePage(
        items=[to_out(message) for message in found],
        next_cursor=(
            Cursor(ORDER, last.created_at, last.message_id).encode() if last else None
        ),
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}/messages",
    response_model=MessagePage,
    summary="List an endpoint's webhook messages, newest first",
    operation_id="list_webhook_messages",
    responses=problem_responses(400, 401, 403, 404, 422, 429),
)
def list_messages(
    request: Request,
    caller: Caller,
    endpoint_id: EndpointId,
    status: Status | None = None,
    since: datetime | None = None,
    limit: Limit = 50,
    cursor: CursorText = None,
) -> MessagePage:
    """Messages newest first; `since` bounds their creation (zone-less is UTC)."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    after = Cursor.decode(cursor, ORDER) if cursor else None
    _endpoint_exists(context, endpoint_id)
    return _page(context, endpoint_id, status, since, after, limit)


def _message(context: ApiContext, message_id: str) -> log_of.Message:
    with context.store.read() as tx:
        try:
            return log_of.get_message(tx.connection, message_id)
        except RecordNotFound as err:
            raise Problem(404, f"no webhook message {message_id}") from err


@router.get(
    "/webhook-messages/{message_id}",
    response_model=MessageOut,
    summary="Read one webhook message",
    operation_id="read_webhook_message",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_message(request: Request, caller: Caller, message_id: MessageId) -> MessageOut:
    """One message by its `webhook-id`: its state, tries and latest outcome."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    return to_out(_message(context, message_id))


@router.get(
    "/webhook-messages/{message_id}/attempts",
    response_model=AttemptList,
    summary="List every attempt at a webhook message",
    operation_id="list_webhook_attempts",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def list_attempts(
    request: Request, caller: Caller, message_id: MessageId
) -> AttemptList:
    """Every attempt, oldest first: time, status, latency, answer's excerpt, error."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    with context.store.read() as tx:
        try:
            attempts = log_of.attempts_for(tx.connection, message_id)
        except RecordNotFound as err:
            raise Problem(404, f"no webhook message {message_id}") from err
    return AttemptList(
        message_id=message_id,
        items=[_attempt(attempt) for attempt in attempts],
    )


def _attempt(attempt: log_of.Attempt) -> AttemptOut:
    shown = AttemptOut.model_validate(attempt, from_attributes=True)
    for name in ("error", "response_excerpt"):
        value = getattr(shown, name)
        if value is not None:
            setattr(shown, name, scrub(value))
    return shown


@router.post(
    "/webhook-messages/{message_id}/resend",
    response_model=ResentOut,
    summary="Send a webhook message again, with its same webhook-id",
    operation_id="resend_webhook_message",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 429),
)
def resend_message(
    request: Request,
    caller: Caller,
    message_id: MessageId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue the message to be sent now, whatever became of it; audited with it.

    A message whose schedule ran out gets one more try, not a new schedule;
    one of a disabled endpoint is 409 (enable or recover the endpoint).
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    write = Write(context, request, caller, {}, idempotency_key)

    def work(audited: AuditedTransaction) -> idempotency.StoredAnswer:
        connection = audited.transaction.connection
        try:
            endpoint_id = hooks.resend_in(connection, message_id)
        except RecordNotFound as err:
            raise Problem(404, f"no webhook message {message_id}") from err
        except hooks.EndpointDisabled as err:
            raise Problem(
                409,
                str(err),
                errors=[FieldError(field="endpoint_id", message="disabled")],
            ) from err
        audited.record(
            actor=caller.actor,
            action="webhook.message_resent",
            target=f"webhook_message:{message_id}",
            source=client_address(request),
            details={"endpoint_id": endpoint_id},
        )
        message = to_out(log_of.get_message(connection, message_id))
        answer = ResentOut(queued=1, message=message)
        return idempotency.StoredAnswer(200, answer.model_dump(mode="json"), {})

    return run_write(write, work)
