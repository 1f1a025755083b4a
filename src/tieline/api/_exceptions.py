"""Routes for the exception queue: list, show, assign, comment, resolve.

The same actions as `tieline exceptions`, over the same functions
(`tieline.workflows.exception_queue`), for people and a console page.

Who sees what: the roles that may read workflows (deciders, the integration
operator, the auditor) see the exceptions of documents in the legal entities
they hold one of those roles in; an exception outside them is answered 404
like a missing one, so its existence does not leak. Acting (assign, comment,
resolve) needs a person: a deciding role in the document's entity, and a
workflow identity the policy knows; the queue's own rules then apply (only
the owner or the supervisor assigns and resolves, anyone of the mapping may
comment, a resolution needs a note, a resolved exception takes no change).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tieline.api._access import audit_write, refuse
from tieline.api._auth import ApiContext, Caller, api_context
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.api._workflow_actions import (
    DECIDERS,
    READERS,
    _person,
    _reaches,
    _require,
    workflow_hub,
)
from tieline.errors import RecordNotFound
from tieline.governance.identities import Principal
from tieline.workflows import DutiesNotSegregated, Hub, UnknownLogin
from tieline.workflows._machine import instance_by_id
from tieline.workflows._sla import ExceptionClosed, WorkflowException
from tieline.workflows.exception_queue import (
    NoteRequired,
    NotExceptionOwner,
    assign,
    comment,
    exception_detail,
    exception_queue,
    resolve,
)

router = APIRouter(prefix="/v1", tags=["exceptions"])
ExceptionId = Annotated[int, Path(ge=1, le=2**62)]


class Status(StrEnum):
    """Which exceptions to list."""

    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


class NoteOut(BaseModel):
    """One note on an exception."""

    author: str
    text: str
    at: datetime


class ExceptionOut(BaseModel):
    """An item on the exception queue and where its document stands."""

    id: int
    document_ref: str
    workflow: str
    document_id: str
    document_state: str
    reason: str
    owner: str
    status: str
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    notes: list[NoteOut]


class ExceptionList(BaseModel):
    """Exceptions, oldest first."""

    items: list[ExceptionOut]


class AssignIn(BaseModel):
    """Who takes the exception over (a person of the workflow policy)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=200)


class CommentIn(BaseModel):
    """What a person adds to an exception."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class ResolveIn(BaseModel):
    """How the exception was resolved (required)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)


def _out(context: ApiContext, found: WorkflowException) -> ExceptionOut:
    detail = exception_detail(context.store, found.id)
    return ExceptionOut(
        id=found.id,
        document_ref=found.document_ref,
        workflow=detail.workflow,
        document_id=detail.document_id,
        document_state=detail.document_state,
        reason=found.reason,
        owner=found.owner,
        status=found.status,
        created_at=found.created_at,
        resolved_by=found.resolved_by,
        resolved_at=found.resolved_at,
        notes=[NoteOut(author=n.author, text=n.text, at=n.at) for n in found.entries],
    )


def _entity(context: ApiContext, found: WorkflowException) -> str | None:
    with context.store.engine.connect() as connection:
        return instance_by_id(connection, found.instance_id).legal_entity_id


def _visible(
    context: ApiContext,
    request: Request,
    caller: Principal,
    exception_id: int,
    *,
    act: bool,
) -> WorkflowException:
    """The exception if the caller reaches its document's entity, else 404."""
    missing = Problem(404, f"no workflow exception {exception_id}")
    try:
        found = exception_detail(context.store, exception_id).exception
    except RecordNotFound as err:
        raise missing from err
    roles = DECIDERS if act else READERS
    if not _reaches(caller, roles, _entity(context, found)):
        raise _refused(context, request, caller, missing, exception_id, act=act)
    return found


def _refused(
    context: ApiContext,
    request: Request,
    caller: Principal,
    problem: Problem,
    exception_id: int,
    *,
    act: bool,
) -> Problem:
    return refuse(
        context,
        request,
        caller,
        problem,
        target=f"exception:{exception_id}",
        wanted="act" if act else "read",
    )


@router.get(
    "/exceptions",
    response_model=ExceptionList,
    summary="The exception queue",
    operation_id="list_exceptions",
    responses=problem_responses(401, 403, 409, 422, 429),
)
def list_workflow_exceptions(
    request: Request,
    caller: Caller,
    owner: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Status = Status.OPEN,
) -> ExceptionList:
    """Exceptions oldest first, of one owner (a login or an id) and status."""
    context = api_context(request)
    _require(context, request, caller, decide=False, target="exceptions")
    hub = workflow_hub(request)
    try:
        found = exception_queue(
            context.store,
            hub,
            owner=owner,
            status=None if status is Status.ALL else status.value,
        )
    except UnknownLogin as err:
        raise Problem(
            422, str(err), errors=[FieldError(field="owner", message=str(err))]
        ) from err
    return ExceptionList(
        items=[
            _out(context, e)
            for e in found
            if _reaches(caller, READERS, _entity(context, e))
        ]
    )


@router.get(
    "/exceptions/{exception_id}",
    response_model=ExceptionOut,
    summary="One exception with its notes",
    operation_id="get_exception",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def get_workflow_exception(
    request: Request, caller: Caller, exception_id: ExceptionId
) -> ExceptionOut:
    """The exception, its notes, and its document's workflow and state."""
    context = api_context(request)
    _require(context, request, caller, decide=False, target=f"exception:{exception_id}")
    workflow_hub(request)
    return _out(context, _visible(context, request, caller, exception_id, act=False))


def _act(
    request: Request, caller: Principal, exception_id: int
) -> tuple[ApiContext, Hub, str]:
    context = api_context(request)
    target = f"exception:{exception_id}"
    _require(context, request, caller, decide=True, target=target)
    hub = workflow_hub(request)
    person = _person(context, request, caller, hub, target)
    _visible(context, request, caller, exception_id, act=True)
    return context, hub, person


def _settle(
    context: ApiContext,
    request: Request,
    caller: Principal,
    exception_id: int,
    action: str,
    run: Callable[[], WorkflowException],
) -> ExceptionOut:
    """Run the queue's action, answering its refusals as problems."""
    try:
        done: WorkflowException = run()
    except (DutiesNotSegregated, NotExceptionOwner) as err:
        problem = Problem(403, str(err), slug="segregation-of-duties")
        raise _refused(
            context, request, caller, problem, exception_id, act=True
        ) from err
    except ExceptionClosed as err:
        raise Problem(409, str(err)) from err
    except NoteRequired as err:
        raise Problem(422, str(err)) from err
    audit_write(
        context,
        request,
        caller,
        action=f"exception.{action}",
        target=f"exception:{exception_id}",
        details={"owner": done.owner, "status": done.status},
    )
    return _out(context, done)


@router.post(
    "/exceptions/{exception_id}/assign",
    response_model=ExceptionOut,
    summary="Hand an exception to another person",
    operation_id="assign_exception",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def assign_workflow_exception(
    request: Request, caller: Caller, exception_id: ExceptionId, body: AssignIn
) -> ExceptionOut:
    """Only its owner or the queue's supervisor may hand it over."""
    context, hub, person = _act(request, caller, exception_id)
    try:
        hub.policies.directory.parse(body.to)
    except UnknownLogin as err:
        raise Problem(
            422, str(err), errors=[FieldError(field="to", message=str(err))]
        ) from err
    return _settle(
        context,
        request,
        caller,
        exception_id,
        "assigned",
        lambda: assign(context.store, hub, exception_id, body.to, person),
    )


@router.post(
    "/exceptions/{exception_id}/comments",
    response_model=ExceptionOut,
    summary="Add a note to an exception",
    operation_id="comment_exception",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def comment_workflow_exception(
    request: Request, caller: Caller, exception_id: ExceptionId, body: CommentIn
) -> ExceptionOut:
    """Any person of the workflow policy may add what they know."""
    context, hub, person = _act(request, caller, exception_id)
    return _settle(
        context,
        request,
        caller,
        exception_id,
        "commented",
        lambda: comment(context.store, hub, exception_id, person, body.text),
    )


@router.post(
    "/exceptions/{exception_id}/resolve",
    response_model=ExceptionOut,
    summary="Close an exception with a note",
    operation_id="resolve_exception",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def resolve_workflow_exception(
    request: Request, caller: Caller, exception_id: ExceptionId, body: ResolveIn
) -> ExceptionOut:
    """Only its owner or the queue's supervisor may resolve it."""
    context, hub, person = _act(request, caller, exception_id)
    return _settle(
        context,
        request,
        caller,
        exception_id,
        "resolved",
        lambda: resolve(context.store, hub, exception_id, person, body.note),
    )
