"""Routes for people's workflow actions: tasks, approve, reject, history.

Mapping a caller to a workflow person: the workflow policy's identity
directory is asked for the caller's identity *name*, as the CLI's `--as`
is: a bare name is a workflow identity id (`pm.pat`), and `system:login`
is a login in that system (`odoo:ppat`). A person registered in tieline
as `pm.pat` (issuer and subject of their identity provider) therefore acts
as workflow identity `pm.pat`. A caller the directory does not know is
refused with 403, naming the identity.

Deciding (approve, reject) and reading one's tasks need a person (never a
service identity: segregation of duties, answered 403 with that reason)
holding a deciding role in the document's legal entity (or every one); a
document outside the caller's entities is answered 404. The workflow's
policy then says whether this person may decide this document. History is
readable by those roles, the integration operator and the auditor. Partners
and new identities are refused everything.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from tieline.api._access import audit_write, holds, refuse
from tieline.api._auth import ApiContext, Caller, api_context
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.errors import ConfigurationError, RecordNotFound
from tieline.governance.identities import IdentityKind, Principal
from tieline.governance.roles import ALL_ENTITIES, Role, Scope
from tieline.model._types import NonNegative
from tieline.workflows import (
    CertificateRefused,
    DutiesNotSegregated,
    Hub,
    NotAnApprover,
    TransitionRefused,
    UnknownLogin,
    load_policies,
)
from tieline.workflows._machine import instances_of
from tieline.workflows.people import (
    NothingToDecide,
    approve,
    history,
    reject,
    tasks_for,
)

router = APIRouter(prefix="/v1", tags=["workflows"])
DECIDERS = frozenset(
    {
        Role.BUYER,
        Role.PROJECT_CONTROLLER,
        Role.ACCOUNTS_PAYABLE,
        Role.FINANCE_APPROVER,
        Role.ADMIN,
    }
)
READERS = DECIDERS | {Role.AUDITOR, Role.INTEGRATION_OPERATOR}
WORKFLOWS = (
    "requisition",
    "invoice",
    "claim",
    "budget_revision",
    "change_order",
    # Decided by their own actions (`_closeout`), or moved by the ERP and
    # receipts (an order); listed for their history.
    "closeout",
    "subcontract",
    "order",
)
Workflow = Annotated[str, Path(pattern="^(" + "|".join(WORKFLOWS) + ")$")]
DocumentId = Annotated[str, Path(min_length=1, max_length=100)]


class TaskOut(BaseModel):
    """A document waiting for the caller's decision."""

    document_ref: str
    document_id: str
    workflow: str
    state: str
    reason: str
    due_at: datetime | None
    details: list[str]


class TaskList(BaseModel):
    """What waits for the caller."""

    person: str
    items: list[TaskOut]


class CertifiedLineIn(BaseModel):
    """Work certified to date on one claimed line (at most what was claimed)."""

    model_config = ConfigDict(extra="forbid")

    line_key: str = Field(min_length=1, max_length=100)
    certified_to_date: NonNegative


class DecisionIn(BaseModel):
    """A decision's comment (optional when approving).

    Certifying a progress claim may also set the work certified to date on
    claimed lines (`lines`; a line not named is certified as claimed) and
    allow a line below its previous certificate (`allow_reduction`). Other
    documents refuse both.
    """

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)
    lines: list[CertifiedLineIn] = Field(default_factory=list, max_length=500)
    allow_reduction: bool = False


class RejectionIn(BaseModel):
    """A rejection's comment, which says why (required)."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=2000)


class DecisionOut(BaseModel):
    """What the decision did, in words."""

    result: str


class HistoryOut(BaseModel):
    """One transition of the document."""

    workflow: str
    at: datetime
    from_state: str | None
    to_state: str
    actor: str
    actor_kind: str
    system: str
    login: str | None
    correlation_id: str
    comment: str | None


class HistoryList(BaseModel):
    """Every transition of the document, in order."""

    items: list[HistoryOut]


def workflow_hub(request: Request) -> Hub:
    """The workflow hub: `app.state.workflow_hub`, else the data folder's policy."""
    given: Hub | None = getattr(request.app.state, "workflow_hub", None)
    if given is not None:
        return given
    settings = api_context(request).governance.settings
    try:
        # The same file the CLI reads by default; loaded once per process.
        hub = Hub(load_policies(settings.data_dir / "workflows.toml"))
    except ConfigurationError as err:
        raise Problem(409, "workflows are not configured on this hub") from err
    request.app.state.workflow_hub = hub
    return hub


def _require(
    context: ApiContext,
    request: Request,
    caller: Principal,
    *,
    decide: bool,
    target: str,
) -> None:
    roles, scope = (
        (DECIDERS, Scope.RECORDS_WRITE) if decide else (READERS, Scope.RECORDS_READ)
    )
    wanted = "decide" if decide else "read"
    if not holds(caller, roles, scope, everywhere=False):
        names = ", ".join(sorted(role.value for role in roles))
        problem = Problem(403, f"to {wanted} workflows you need one of: {names}")
        raise refuse(context, request, caller, problem, target=target, wanted=wanted)
    if decide and caller.identity.kind is not IdentityKind.HUMAN:
        problem = Problem(
            403,
            f"segregation of duties: {caller.actor} is a service identity; only a "
            "person can decide a workflow document",
            slug="segregation-of-duties",
        )
        raise refuse(context, request, caller, problem, target=target, wanted=wanted)


def _person(
    context: ApiContext, request: Request, caller: Principal, hub: Hub, target: str
) -> str:
    """The workflow identity id of the caller, or 403."""
    try:
        return hub.policies.directory.parse(caller.identity.name).id
    except UnknownLogin as err:
        problem = Problem(
            403,
            f"{caller.actor} is no person in the workflow policy's identities",
        )
        raise refuse(
            context, request, caller, problem, target=target, wanted="act"
        ) from err


@router.get(
    "/tasks",
    response_model=TaskList,
    summary="What waits for the caller's decision",
    operation_id="list_tasks",
    responses=problem_responses(401, 403, 409, 429),
)
def list_tasks(request: Request, caller: Caller) -> TaskList:
    """The caller's assignments and the exceptions they own.

    TODO: tasks are listed as the workflow policy assigned them, whatever
    legal entities the caller's grants cover; a person assigned in an entity
    they hold no role in sees the task's reference here but gets 404 on it.
    """
    context = api_context(request)
    _require(context, request, caller, decide=True, target="tasks")
    hub = workflow_hub(request)
    person = _person(context, request, caller, hub, "tasks")
    tasks = tasks_for(context.store, hub, person)
    return TaskList(
        person=person,
        items=[
            TaskOut(
                document_ref=t.document_ref,
                document_id=t.document_id,
                workflow=t.workflow,
                state=t.state,
                reason=t.reason,
                due_at=t.due_at,
                details=list(t.details),
            )
            for t in tasks
        ],
    )


def _document(
    context: ApiContext,
    request: Request,
    caller: Principal,
    workflow: str,
    document: str,
    *,
    decide: bool,
) -> None:
    """404 unless the document exists in `workflow` in an entity the caller reaches.

    A document outside the caller's legal entities is answered 404 like a
    missing one (and audited), so its existence does not leak.
    """
    with context.store.engine.connect() as connection:
        found = [
            i for i in instances_of(connection, document) if i.workflow == workflow
        ]
    missing = Problem(404, f"no {workflow.replace('_', ' ')} {document}")
    if not found:
        raise missing
    roles = DECIDERS if decide else READERS
    if not any(_reaches(caller, roles, i.legal_entity_id) for i in found):
        raise refuse(
            context,
            request,
            caller,
            missing,
            target=f"{workflow}:{document}",
            wanted="decide" if decide else "read",
        )


def _reaches(caller: Principal, roles: frozenset[Role], entity: str | None) -> bool:
    return any(
        grant.role in roles and grant.legal_entity_id in (ALL_ENTITIES, entity)
        for grant in caller.grants
    )


def _decide(
    request: Request,
    caller: Principal,
    workflow: str,
    document: str,
    comment: str | None,
    verdict: str,
    decision: DecisionIn | None = None,
) -> DecisionOut:
    context = api_context(request)
    target = f"{workflow}:{document}"
    _require(context, request, caller, decide=True, target=target)
    hub = workflow_hub(request)
    person = _person(context, request, caller, hub, target)
    _document(context, request, caller, workflow, document, decide=True)
    certified = _certified(workflow, decision)
    try:
        if verdict == "approved":
            result = approve(
                context.store,
                hub,
                document,
                person,
                comment,
                certified=certified,
                allow_reduction=decision.allow_reduction if decision else False,
            )
        else:
            # RejectionIn requires the comment; the workflow checks it again.
            result = reject(context.store, hub, document, person, comment or "")
    except CertificateRefused as err:
        index = _line_index(decision, err.line_key)
        field = f"lines[{index}].{err.field}" if index is not None else "lines"
        raise Problem(
            422, err.reason, errors=[FieldError(field=field, message=err.reason)]
        ) from err
    except TransitionRefused as err:
        raise Problem(409, str(err)) from err
    except (DutiesNotSegregated, NotAnApprover) as err:
        problem = Problem(403, str(err), slug="segregation-of-duties")
        raise refuse(
            context, request, caller, problem, target=target, wanted=verdict
        ) from err
    except NothingToDecide as err:
        raise Problem(409, str(err)) from err
    # The workflow commits in its own transaction; the entry follows it.
    audit_write(
        context,
        request,
        caller,
        action=f"workflow.{verdict}",
        target=target,
        details={"person": person, "result": result},
    )
    return DecisionOut(result=result)


def _certified(workflow: str, decision: DecisionIn | None) -> dict[str, Decimal]:
    """The body's certified figures by line key; 422 if they cannot apply."""
    if decision is None:
        return {}
    if workflow != "claim" and (decision.lines or decision.allow_reduction):
        field = "lines" if decision.lines else "allow_reduction"
        message = "only certifying a progress claim takes certified lines"
        raise Problem(422, message, errors=[FieldError(field=field, message=message)])
    found: dict[str, Decimal] = {}
    for index, line in enumerate(decision.lines):
        if line.line_key in found:
            message = f"line {line.line_key} is named twice"
            raise Problem(
                422,
                message,
                errors=[FieldError(field=f"lines[{index}].line_key", message=message)],
            )
        found[line.line_key] = line.certified_to_date
    return found


def _line_index(decision: DecisionIn | None, line_key: str) -> int | None:
    lines = decision.lines if decision is not None else []
    return next((i for i, line in enumerate(lines) if line.line_key == line_key), None)


@router.post(
    "/documents/{workflow}/{document_id}/approve",
    response_model=DecisionOut,
    summary="Approve what a document waits for",
    operation_id="approve_document",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def approve_document(
    request: Request,
    caller: Caller,
    workflow: Workflow,
    document_id: DocumentId,
    body: DecisionIn | None = None,
) -> DecisionOut:
    """Approve (a posted invoice: release its payment; a claim: certify it).

    A claim is certified as claimed, or at the `lines` given (less than
    claimed, never more, never past a line's contract value); a refused
    figure is answered 422 naming the line's field.
    """
    comment = body.comment if body is not None else None
    return _decide(request, caller, workflow, document_id, comment, "approved", body)


@router.post(
    "/documents/{workflow}/{document_id}/reject",
    response_model=DecisionOut,
    summary="Reject what a document waits for",
    operation_id="reject_document",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def reject_document(
    request: Request,
    caller: Caller,
    workflow: Workflow,
    document_id: DocumentId,
    body: RejectionIn,
) -> DecisionOut:
    """Reject, with a comment saying why."""
    return _decide(request, caller, workflow, document_id, body.comment, "rejected")


@router.get(
    "/documents/{workflow}/{document_id}/history",
    response_model=HistoryList,
    summary="Every transition of a document",
    operation_id="document_history",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def document_history(
    request: Request, caller: Caller, workflow: Workflow, document_id: DocumentId
) -> HistoryList:
    """The document's transitions in order, with who, when and why."""
    context = api_context(request)
    target = f"{workflow}:{document_id}"
    _require(context, request, caller, decide=False, target=target)
    _document(context, request, caller, workflow, document_id, decide=False)
    try:
        entries = history(context.store, document_id)
    except RecordNotFound as err:
        raise Problem(404, f"no {workflow.replace('_', ' ')} {document_id}") from err
    items = [
        HistoryOut.model_validate(entry, from_attributes=True)
        for entry in entries
        if entry.workflow == workflow
    ]
    if not items:
        raise Problem(404, f"no {workflow.replace('_', ' ')} {document_id}")
    return HistoryList(items=items)
