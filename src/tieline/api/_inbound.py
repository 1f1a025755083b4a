"""Routes over inbound webhook sources: who may post to `/hooks/<name>`.

Sources belong to no legal entity: a sender's messages reach the whole
backbone. So these routes are authorised as the backbone's are
(`require_backbone`): integration operators and admins holding their role on
every entity (`*`) manage sources, auditors on `*` read them, everyone else
is refused and the refusal audited. A secret is shown once, in the answer
that made it (create, rotate-secret), with `Cache-Control: no-store`, and
never in a list or a read; writes are audited with no secret in the entry,
and nothing here logs one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

# Imported for what it declares: the processor `odoo` a source may be bound to.
import tieline.connectors.odoo.webhooks  # noqa: F401
from tieline.api._access import audit_write, require_backbone
from tieline.api._auth import ApiContext, Caller, api_context
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.api._webhooks import RotateIn
from tieline.delivery import inbound
from tieline.errors import RecordNotFound
from tieline.governance.identities import Principal

router = APIRouter(prefix="/v1", tags=["inbound-sources"])
SOURCE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
HEADER_NAME = r"^[A-Za-z0-9-]{1,100}$"
SourceName = Annotated[str, Path(min_length=1, max_length=63)]
TARGET = "inbound sources"


class SourceIn(BaseModel):
    """A new sender: its name (the URL segment), how it signs, what runs after."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SOURCE_NAME, max_length=63)
    scheme: inbound.Scheme
    tolerance: float = Field(default=300.0, ge=1, le=86_400)
    id_header: str | None = Field(default=None, pattern=HEADER_NAME)
    signature_header: str | None = Field(default=None, pattern=HEADER_NAME)
    processor: str | None = Field(default=None, min_length=1, max_length=63)


class SourceOut(BaseModel):
    """A source as the API shows it: never its secret."""

    name: str
    scheme: inbound.Scheme
    processor: str | None
    tolerance: float
    id_header: str | None
    signature_header: str | None
    path: str
    created_at: datetime | None
    previous_secret_until: datetime | None
    messages: dict[str, int]
    last_received_at: datetime | None


class SourceCreated(SourceOut):
    """A new source: `secret` is shown this once and never again."""

    secret: str


class SourceList(BaseModel):
    """Every source, by name."""

    items: list[SourceOut]


class SecretOut(BaseModel):
    """The new secret, shown this once, and until when the old one verifies."""

    name: str
    secret: str
    previous_valid_until: datetime


def _out(summary: inbound.SourceSummary) -> SourceOut:
    return SourceOut(
        name=summary.name,
        scheme=summary.scheme,
        processor=summary.processor,
        tolerance=summary.tolerance,
        id_header=summary.id_header,
        signature_header=summary.signature_header,
        path=f"/hooks/{summary.name}",
        created_at=summary.created_at,
        previous_secret_until=summary.previous_until,
        messages=summary.messages,
        last_received_at=summary.last_received_at,
    )


def _one(context: ApiContext, name: str) -> SourceOut:
    found = inbound.summarise_sources(context.store, name)
    if not found:
        raise Problem(404, f"no inbound source {name}")
    return _out(found[0])


def _audit(
    context: ApiContext,
    request: Request,
    caller: Principal,
    action: str,
    name: str,
    details: dict[str, Any],
) -> None:
    audit_write(
        context,
        request,
        caller,
        action=action,
        target=f"inbound_source:{name}",
        details=details,
    )


@router.get(
    "/inbound-sources",
    response_model=SourceList,
    summary="List inbound webhook sources",
    operation_id="list_inbound_sources",
    responses=problem_responses(401, 403, 429),
)
def list_sources(request: Request, caller: Caller) -> SourceList:
    """Every source by name, with its messages by state, without secrets."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    return SourceList(
        items=[_out(summary) for summary in inbound.summarise_sources(context.store)]
    )


@router.post(
    "/inbound-sources",
    response_model=SourceCreated,
    status_code=201,
    summary="Add an inbound webhook source (its secret is shown once)",
    operation_id="create_inbound_source",
    responses=problem_responses(401, 403, 409, 422, 429),
)
def create_source(request: Request, caller: Caller, body: SourceIn) -> JSONResponse:
    """Add a source; the answer holds its secret, this once.

    A source with no `processor` has each message forwarded as its
    `tieline.inbound.received` event (data `source`, `inbound_id`).
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    try:
        source = inbound.add_source(
            context.store,
            body.name,
            body.scheme,
            tolerance=body.tolerance,
            id_header=body.id_header,
            signature_header=body.signature_header,
            processor=body.processor,
        )
    except inbound.SourceExists as err:
        raise Problem(
            409,
            f"an inbound source named {body.name} already exists",
            errors=[FieldError(field="name", message="already exists")],
        ) from err
    _audit(
        context,
        request,
        caller,
        "inbound.source_added",
        source.name,
        {"scheme": source.scheme.value, "processor": source.processor},
    )
    created = SourceCreated(
        **_one(context, source.name).model_dump(), secret=source.secret
    )
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=201,
        headers={
            "Location": f"/v1/inbound-sources/{source.name}",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/inbound-sources/{name}",
    response_model=SourceOut,
    summary="Read an inbound webhook source",
    operation_id="read_inbound_source",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_source(request: Request, caller: Caller, name: SourceName) -> SourceOut:
    """One source with its messages by state, without its secret."""
    context = api_context(request)
    require_backbone(context, request, caller, write=False, target=TARGET)
    return _one(context, name)


@router.post(
    "/inbound-sources/{name}/rotate-secret",
    response_model=SecretOut,
    summary="Give an inbound source a new secret (shown once)",
    operation_id="rotate_inbound_source_secret",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def rotate_secret(
    request: Request,
    caller: Caller,
    name: SourceName,
    body: RotateIn | None = None,
) -> JSONResponse:
    """A new secret; the previous one keeps verifying for the overlap.

    The rotation commits before its audit entry (the delivery module owns
    the transaction); the entry never holds either secret.
    """
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    overlap = timedelta(hours=(body or RotateIn()).overlap_hours)
    try:
        source = inbound.rotate_source_secret(context.store, name, overlap=overlap)
    except RecordNotFound as err:
        raise Problem(404, f"no inbound source {name}") from err
    _audit(
        context,
        request,
        caller,
        "secret.rotated",
        name,
        {"secret": "inbound_source", "overlap_hours": overlap.total_seconds() / 3600},
    )
    assert source.previous_until is not None  # set by every rotation
    answer = SecretOut(
        name=name, secret=source.secret, previous_valid_until=source.previous_until
    )
    return JSONResponse(
        answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"}
    )


@router.delete(
    "/inbound-sources/{name}",
    status_code=204,
    summary="Remove an inbound webhook source (its requests are refused after)",
    operation_id="delete_inbound_source",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def delete_source(request: Request, caller: Caller, name: SourceName) -> None:
    """Forget the source; the messages it sent before are kept."""
    context = api_context(request)
    require_backbone(context, request, caller, write=True, target=TARGET)
    try:
        inbound.remove_source(context.store, name)
    except RecordNotFound as err:
        raise Problem(404, f"no inbound source {name}") from err
    _audit(context, request, caller, "inbound.source_removed", name, {})
