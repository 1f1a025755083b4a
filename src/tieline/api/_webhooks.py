"""Routes over outbound webhook endpoints (the backbone's subscriptions).

Integration operators and admins manage endpoints; auditors read them. A
secret is shown once, in the answer that made it (create, rotate-secret),
and never in a list or a read; rotations are audited as secret rotations
with no secret in the entry, and nothing here logs one. Changes use
`If-Match` with the endpoint's ETag, a digest of its settings and change
time, because the table keeps no version number. `recover` enables an
endpoint and queues its held messages and those failed since a point in
time; an endpoint's messages and their attempts are in `_webhook_messages`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update

from tieline.api import _idempotency as idempotency
from tieline.api._access import audit_write, require_backbone
from tieline.api._auth import ApiContext, Caller, api_context, client_address
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.api._records import IdempotencyKey, Write, run_write
from tieline.delivery import endpoints as hooks
from tieline.errors import RecordNotFound
from tieline.governance.audit import AuditedTransaction
from tieline.governance.identities import Principal
from tieline.store._delivery_schema import webhook_endpoints

router = APIRouter(prefix="/v1", tags=["webhook-endpoints"])
EndpointId = Annotated[str, Path(min_length=1, max_length=36)]
EventType = Annotated[str, Field(min_length=1, max_length=120)]
TARGET = "webhook endpoints"
# Settings a PATCH may change but not clear.
REQUIRED = frozenset({"url", "event_types", "filters", "description"})


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    return url


def _check_filters(filters: dict[str, str]) -> dict[str, str]:
    unknown = set(filters) - hooks.FILTER_KEYS
    if unknown:
        raise ValueError(
            f"unknown filter {sorted(unknown)}; use {sorted(hooks.FILTER_KEYS)}"
        )
    return filters


class EndpointIn(BaseModel):
    """A new endpoint: where to send, which events, which project or entity."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    event_types: list[EventType] = Field(default=["tieline.>"], min_length=1)
    filters: dict[str, Annotated[str, Field(max_length=64)]] = {}
    description: str = Field(default="", max_length=500)
    rate_limit: float | None = Field(default=None, gt=0, le=10_000)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _check_url(url)

    @field_validator("filters")
    @classmethod
    def _filters(cls, filters: dict[str, str]) -> dict[str, str]:
        return _check_filters(filters)


class EndpointPatch(BaseModel):
    """Settings to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    filters: dict[str, Annotated[str, Field(max_length=64)]] | None = None
    description: str | None = Field(default=None, max_length=500)
    rate_limit: float | None = Field(default=None, gt=0, le=10_000)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _check_url(url)

    @field_validator("filters")
    @classmethod
    def _filters(cls, filters: dict[str, str] | None) -> dict[str, str] | None:
        return None if filters is None else _check_filters(filters)


class EndpointOut(BaseModel):
    """An endpoint as the API shows it: never its secret."""

    id: str
    url: str
    event_types: list[str]
    filters: dict[str, str]
    status: str
    description: str
    rate_limit: float | None
    disabled_reason: str | None


class EndpointCreated(EndpointOut):
    """A new endpoint: `secret` is shown this once and never again."""

    secret: str


class EndpointList(BaseModel):
    """Every endpoint, oldest first."""

    items: list[EndpointOut]


class RotateIn(BaseModel):
    """How long the previous secret stays valid after rotation (an endpoint's
    keeps signing, an inbound source's keeps verifying)."""

    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(default=24, ge=0, le=24 * 30)


class SecretOut(BaseModel):
    """The new secret, shown this once, and until when the old one signs."""

    id: str
    secret: str
    previous_valid_until: datetime


class DisableIn(BaseModel):
    """Why the endpoint is turned off."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class EnabledOut(BaseModel):
    """The endpoint, and how many held messages were queued to send."""

    endpoint: EndpointOut
    queued: int


class RecoverIn(BaseModel):
    """The point in time to recover from (RFC 3339, with its offset)."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime


class RecoveredOut(BaseModel):
    """The endpoint, enabled, and how many messages were queued to send again."""

    endpoint: EndpointOut
    since: datetime
    queued: int = Field(
        description="Its held messages, and those that failed since `since`."
    )


def _out(row: Any) -> EndpointOut:
    endpoint = hooks.to_endpoint(row)
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        filters=dict(endpoint.filters),
        status=endpoint.status,
        description=endpoint.description,
        rate_limit=endpoint.rate_limit,
        disabled_reason=endpoint.disabled_reason,
    )


def etag(row: Any) -> str:
    """A digest of the endpoint's settings and change time (no secret in it)."""
    shown = _out(row).model_dump(mode="json")
    stamp = row["updated_at"]
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
    blob = json.dumps([shown, stamp.isoformat()], sort_keys=True)
    return f'"{hashlib.sha256(blob.encode()).hexdigest()[:32]}"'


def _row(context: ApiContext, endpoint_id: str) -> Any:
    with context.store.read() as tx:
        row = tx.connection.execute(
            select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        ).first()
    if row is None:
        raise Problem(404, f"no webhook endpoint {endpoint_id}")
    return row._mapping


def _answer(row: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(
        _out(row).model_dump(mode="json"),
        status_code=status,
        headers={"ETag": etag(row)},
    )


def _audit(
    context: ApiContext,
    request: Request,
    caller: Principal,
    action: str,
    endpoint_id: str,
    details: dict[str, Any],
) -> None:
    audit_write(
        context,
        request,
        caller,
        action=action,
        target=f"webhook_endpoint:{endpoint_id}",
        details=details,
    )


def _host(url: str) -> str:
    # Audit and logs name the host only: a webhook URL often carries a token.
    return urlsplit(url).hostname or "?"


@router.get(
    "/webhook-endpoints",
    response_model=EndpointList,
    summary="List webhook endpoints",
    operation_id="list_webhook_endpoints",
    responses=problem_responses(401, 403, 429),
)
def list_endpoints(request: Request, caller: Caller) -> EndpointList:
    """Every endpoint, oldest first, without secrets."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    with context.store.read() as tx:
        rows = tx.connection.execute(
            select(webhook_endpoints).order_by(
                webhook_endpoints.c.created_at, webhook_endpoints.c.id
            )
        ).all()
    return EndpointList(items=[_out(row._mapping) for row in rows])


@router.post(
    "/webhook-endpoints",
    response_model=EndpointCreated,
    status_code=201,
    summary="Add a webhook endpoint (its secret is shown once)",
    operation_id="create_webhook_endpoint",
    responses=problem_responses(401, 403, 422, 429),
)
def create_endpoint(request: Request, caller: Caller, body: EndpointIn) -> JSONResponse:
    """Add an endpoint; the answer holds its secret, this once."""
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    endpoint, secret = hooks.create_endpoint(
        context.store,
        body.url,
        event_types=body.event_types,
        filters=body.filters,
        description=body.description,
        rate_limit=body.rate_limit,
    )
    _audit(
        context,
        request,
        caller,
        "webhook.endpoint_created",
        endpoint.id,
        {"host": _host(body.url), "event_types": body.event_types},
    )
    row = _row(context, endpoint.id)
    created = EndpointCreated(**_out(row).model_dump(), secret=secret)
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=201,
        headers={
            "ETag": etag(row),
            "Location": f"/v1/webhook-endpoints/{endpoint.id}",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Read a webhook endpoint",
    operation_id="read_webhook_endpoint",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_endpoint(
    request: Request, caller: Caller, endpoint_id: EndpointId
) -> JSONResponse:
    """One endpoint with its ETag, without its secret."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    return _answer(_row(context, endpoint_id))


def _matches(if_match: str | None, current: str) -> None:
    if if_match is None:
        raise Problem(
            428,
            "send If-Match with the ETag you read, so no change is overwritten unseen",
            errors=[FieldError(field="If-Match", message="required")],
        )
    tags = {tag.strip() for tag in if_match.split(",")}
    # `*`: whatever is current (RFC 9110, 13.1.1), as the records' routes take it.
    if "*" not in tags and current not in tags:
        raise Problem(
            412,
            f"the endpoint changed since you read it (now {current})",
            errors=[FieldError(field="If-Match", message="stale")],
        )


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Change a webhook endpoint's settings",
    operation_id="update_webhook_endpoint",
    responses=problem_responses(401, 403, 404, 412, 422, 428, 429),
)
def update_endpoint(
    request: Request,
    caller: Caller,
    endpoint_id: EndpointId,
    body: EndpointPatch,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    """Change the settings given; the change and its audit commit as one."""
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    changes = body.model_dump(exclude_unset=True)
    cleared = sorted(k for k, v in changes.items() if v is None and k in REQUIRED)
    if cleared:
        raise Problem(
            422,
            f"{', '.join(cleared)} cannot be null",
            errors=[
                FieldError(field=name, message="cannot be null") for name in cleared
            ],
        )
    table = webhook_endpoints
    with context.governance.audit.transaction(context.store) as audited:
        connection = audited.transaction.connection
        row = connection.execute(
            select(table).where(table.c.id == endpoint_id).with_for_update()
        ).first()
        if row is None:
            raise Problem(404, f"no webhook endpoint {endpoint_id}")
        _matches(if_match, etag(row._mapping))
        if changes:
            connection.execute(
                update(table)
                .where(table.c.id == endpoint_id)
                .values(**changes, updated_at=datetime.now(UTC))
            )
            audited.record(
                actor=caller.actor,
                action="webhook.endpoint_updated",
                target=f"webhook_endpoint:{endpoint_id}",
                source=client_address(request),
                details={"fields": sorted(changes)},
            )
    return _answer(_row(context, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=SecretOut,
    summary="Give an endpoint a new secret (shown once)",
    operation_id="rotate_webhook_secret",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def rotate_secret(
    request: Request,
    caller: Caller,
    endpoint_id: EndpointId,
    body: RotateIn | None = None,
) -> JSONResponse:
    """A new secret; the previous one keeps signing for the overlap.

    The rotation commits before its audit entry (the delivery module owns
    the transaction); the entry never holds either secret.
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    overlap = timedelta(hours=(body or RotateIn()).overlap_hours)
    try:
        secret = hooks.rotate_secret(context.store, endpoint_id, overlap=overlap)
    except RecordNotFound as err:
        raise Problem(404, f"no webhook endpoint {endpoint_id}") from err
    _audit(
        context,
        request,
        caller,
        "secret.rotated",
        endpoint_id,
        {"secret": "webhook", "overlap_hours": overlap.total_seconds() / 3600},
    )
    answer = SecretOut(
        id=endpoint_id,
        secret=secret,
        previous_valid_until=datetime.now(UTC) + overlap,
    )
    return JSONResponse(
        answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/disable",
    response_model=EndpointOut,
    summary="Stop sending to an endpoint (its messages are held)",
    operation_id="disable_webhook_endpoint",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def disable_endpoint(
    request: Request, caller: Caller, endpoint_id: EndpointId, body: DisableIn
) -> JSONResponse:
    """Disable the endpoint and hold its pending messages; audited with it."""
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    table = webhook_endpoints
    with context.governance.audit.transaction(context.store) as audited:
        connection = audited.transaction.connection
        found = connection.execute(
            select(table.c.id).where(table.c.id == endpoint_id).with_for_update()
        ).first()
        if found is None:
            raise Problem(404, f"no webhook endpoint {endpoint_id}")
        hooks.disable_in(connection, endpoint_id, body.reason)
        audited.record(
            actor=caller.actor,
            action="webhook.endpoint_disabled",
            target=f"webhook_endpoint:{endpoint_id}",
            source=client_address(request),
            details={"reason": body.reason},
        )
    return _answer(_row(context, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    response_model=EnabledOut,
    summary="Send to an endpoint again, with the messages held meanwhile",
    operation_id="enable_webhook_endpoint",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def enable_endpoint(
    request: Request, caller: Caller, endpoint_id: EndpointId
) -> EnabledOut:
    """Enable the endpoint and queue its held messages."""
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    try:
        queued = hooks.enable(context.store, endpoint_id)
    except RecordNotFound as err:
        raise Problem(404, f"no webhook endpoint {endpoint_id}") from err
    _audit(
        context,
        request,
        caller,
        "webhook.endpoint_enabled",
        endpoint_id,
        {"queued": queued},
    )
    return EnabledOut(endpoint=_out(_row(context, endpoint_id)), queued=queued)


@router.post(
    "/webhook-endpoints/{endpoint_id}/recover",
    response_model=RecoveredOut,
    summary="Enable an endpoint and send again what failed since a point in time",
    operation_id="recover_webhook_endpoint",
    responses=problem_responses(400, 401, 403, 404, 422, 429),
)
def recover_endpoint(
    request: Request,
    caller: Caller,
    endpoint_id: EndpointId,
    body: RecoverIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Enable the endpoint; queue its held messages and those failed since `since`.

    Each goes with its same `webhook-id`. A `since` in the future is 422; the
    recovery and its audit entry commit as one, and `Idempotency-Key` makes a
    retried request answer as the first did instead of queueing again.
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    write = Write(
        context, request, caller, body.model_dump(mode="json"), idempotency_key
    )

    def work(audited: AuditedTransaction) -> idempotency.StoredAnswer:
        connection = audited.transaction.connection
        try:
            queued = hooks.recover_in(connection, endpoint_id, body.since)
        except RecordNotFound as err:
            raise Problem(404, f"no webhook endpoint {endpoint_id}") from err
        audited.record(
            actor=caller.actor,
            action="webhook.endpoint_recovered",
            target=f"webhook_endpoint:{endpoint_id}",
            source=client_address(request),
            details={"since": body.since.isoformat(), "queued": queued},
        )
        row = connection.execute(
            select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        ).one()
        answer = RecoveredOut(
            endpoint=_out(row._mapping), since=body.since, queued=queued
        )
        return idempotency.StoredAnswer(200, answer.model_dump(mode="json"), {})

    return run_write(write, work)
