"""Routes for submitting a requisition and reading it back.

`POST /v1/requisitions` submits one (`tieline.workflows.submissions`); the
committed record's event starts its approval workflow, and the approvers
find it in `/v1/tasks`. The requester is the caller: their tieline identity
is mapped to a workflow identity as for decisions (`_workflow_actions`), and
a caller the policy's directory does not know is refused with 403. A
service identity listed there may submit; it still never approves.

Submitting needs the records:write scope and a submitting role (buyer,
project controller, integration operator, admin) in the project's legal
entity (or every one). The answer is 201 with the requisition, its `ETag`
and `Location`; `Idempotency-Key` makes a retry return the first answer,
and a number already used in the legal entity is 409. Refusals of the
request name the field and the line (`lines[1].cost_code`), as 422.

`GET /v1/requisitions/{id}` reads one with its `ETag` (`If-None-Match`
answers 304), for the roles that read workflow history, in its entity.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from tieline.api import _idempotency as idempotency
from tieline.api._access import holds, refuse
from tieline.api._auth import ApiContext, Caller, api_context, client_address
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.api._records import (
    IdempotencyKey,
    Refused,
    Write,
    etag,
    run_write,
)
from tieline.api._workflow_actions import READERS, workflow_hub
from tieline.governance.audit import AuditedTransaction
from tieline.governance.identities import Principal
from tieline.governance.roles import ALL_ENTITIES, Role, Scope
from tieline.model import Project, Requisition
from tieline.workflows import Hub, NoApprovalRule, UnknownLogin
from tieline.workflows._identity import Actor
from tieline.workflows.submissions import (
    AlreadySubmitted,
    RequisitionRequest,
    submit_requisition,
)

router = APIRouter(prefix="/v1", tags=["workflows"])
SUBMITTERS = frozenset(
    {Role.BUYER, Role.PROJECT_CONTROLLER, Role.INTEGRATION_OPERATOR, Role.ADMIN}
)
RequisitionId = Annotated[str, Path(min_length=1, max_length=64)]


def _roles(roles: frozenset[Role]) -> str:
    return ", ".join(sorted(role.value for role in roles))


def _reaches(caller: Principal, roles: frozenset[Role], entity: str | None) -> bool:
    return any(
        grant.role in roles and grant.legal_entity_id in (ALL_ENTITIES, entity)
        for grant in caller.grants
    )


def _require_submitter(
    context: ApiContext, request: Request, caller: Principal
) -> None:
    """403 (audited) unless the caller holds a submitting role somewhere."""
    if not holds(caller, SUBMITTERS, Scope.RECORDS_WRITE, everywhere=False):
        problem = Problem(
            403,
            f"to submit requisitions you need one of: {_roles(SUBMITTERS)}, "
            f"and the {Scope.RECORDS_WRITE.value} scope",
        )
        raise refuse(
            context, request, caller, problem, target="requisitions", wanted="submit"
        )


def _requester(
    context: ApiContext, request: Request, caller: Principal, hub: Hub
) -> Actor:
    """The caller as a workflow identity (person or service), or 403."""
    try:
        return hub.policies.directory.parse(caller.identity.name)
    except UnknownLogin as err:
        problem = Problem(
            403, f"{caller.actor} is no identity in the workflow policy's identities"
        )
        raise refuse(
            context, request, caller, problem, target="requisitions", wanted="submit"
        ) from err


@router.post(
    "/requisitions",
    response_model=Requisition,
    status_code=201,
    summary="Submit a requisition for approval",
    operation_id="submit_requisition",
    responses=problem_responses(401, 403, 409, 413, 422, 429),
)
def submit(
    request: Request,
    caller: Caller,
    body: RequisitionRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Submit a requisition as the caller; its approvers find it in their tasks."""
    context = api_context(request)
    _require_submitter(context, request, caller)
    hub = workflow_hub(request)
    requester = _requester(context, request, caller, hub)
    write = Write(
        context, request, caller, body.model_dump(mode="json"), idempotency_key
    )

    def work(audited: AuditedTransaction) -> idempotency.StoredAnswer:
        tx = audited.transaction
        project = tx.get(Project, body.project_id)
        if project is not None and not _reaches(
            caller, SUBMITTERS, project.legal_entity_id
        ):
            raise Refused(
                Problem(
                    403,
                    f"to submit requisitions for project {project.code} you need "
                    f"one of: {_roles(SUBMITTERS)} in its legal entity",
                ),
                f"requisition:{body.number}",
                "submit",
            )
        try:
            saved = submit_requisition(tx, hub, body, requester)
        except AlreadySubmitted as err:
            raise Problem(
                409,
                str(err),
                errors=[FieldError(field="number", message="already submitted")],
            ) from err
        except NoApprovalRule as err:
            raise Problem(422, str(err), slug="no-approval-rule") from err
        audited.record(
            actor=caller.actor,
            action="workflow.submitted",
            target=saved.subject,
            source=client_address(request),
            details={"requested_by": requester.id, "number": saved.number},
        )
        return idempotency.StoredAnswer(
            201,
            saved.model_dump(mode="json"),
            {"ETag": etag(saved), "Location": f"/v1/requisitions/{saved.id}"},
        )

    return run_write(write, work)


@router.get(
    "/requisitions/{requisition_id}",
    response_model=Requisition,
    summary="Read a requisition",
    operation_id="read_requisition",
    responses={
        304: {"description": "Not modified: If-None-Match names its ETag"},
        **problem_responses(401, 403, 404, 422, 429),
    },
)
def read(
    request: Request,
    caller: Caller,
    requisition_id: RequisitionId,
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", max_length=500)
    ] = None,
) -> Response:
    """One requisition with its ETag; 404 outside the caller's legal entities."""
    context = api_context(request)
    if not holds(caller, READERS, Scope.RECORDS_READ, everywhere=False):
        problem = Problem(
            403, f"to read requisitions you need one of: {_roles(READERS)}"
        )
        raise refuse(
            context, request, caller, problem, target="requisitions", wanted="read"
        )
    with context.store.transaction() as tx:
        found = tx.get(Requisition, requisition_id)
    missing = Problem(404, f"no requisition {requisition_id}")
    if found is None:
        raise missing
    if not _reaches(caller, READERS, found.legal_entity_id):
        raise refuse(
            context, request, caller, missing, target=found.subject, wanted="read"
        )
    tags = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
    if "*" in tags or etag(found) in tags:
        return Response(status_code=304, headers={"ETag": etag(found)})
    return JSONResponse(found.model_dump(mode="json"), headers={"ETag": etag(found)})
