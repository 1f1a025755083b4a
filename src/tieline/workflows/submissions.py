"""A person (or an integration) submits a requisition through tieline itself.

`RequisitionRequest` is what a caller sends: a number, a project, a supplier
and lines (cost code, quantity, unit price; the amount is worked out, or
checked when given). `submit_requisition` checks it against the store and
the policy and saves a submitted `Requisition`; its committed event starts
the requisition's workflow (`requisitions.start_requisition`), as one from
a site system would. The API route and `tieline requisition submit` both
call it.

The requester is the caller, never a field of the request: the record's
origin system is `tieline` and `requested_by` the login the caller acted
under (`procore:sam@site.example`, or a bare identity id for tieline's own
logins), so the workflow resolves it back to the same identity and records
the system it came from, and "whoever requested cannot approve" holds. A
service identity may submit (an integration forwarding site requests); it
can still never approve.

Every refusal is a `ValidationFailed` naming the field (`project_id`,
`lines[1].cost_code`), a `NoApprovalRule` when no rule of the policy would
route it, or `AlreadySubmitted` when its number was used in that legal
entity.

TODO: cost codes are checked by reading every cost code record, since the
store indexes none by system and code; fine for a few code systems of
thousands of codes, slow for far more.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tieline.errors import PermanentError, ValidationFailed
from tieline.model import (
    CommitmentType,
    CostCode,
    LegalEntity,
    Origin,
    Project,
    Requisition,
    RequisitionLine,
    Supplier,
    SupplierStatus,
)
from tieline.model._types import NonNegative, Percent
from tieline.money import DecimalStr, round_money
from tieline.store import Transaction
from tieline.workflows._common import subject
from tieline.workflows._identity import HUB_LOGINS, Actor, ActorKind
from tieline.workflows._machine import Hub
from tieline.workflows._policy import DocumentType
from tieline.workflows.requisitions import HUB_SYSTEM


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be more than zero")
    return value


class RequestedLine(BaseModel):
    """One thing asked for: a cost code, a quantity at a unit price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_key: str | None = Field(default=None, min_length=1, max_length=40)
    description: str = Field(default="", max_length=500)
    cost_code: str = Field(min_length=1, max_length=100)
    quantity: Annotated[DecimalStr, AfterValidator(_positive)]
    unit: str | None = Field(default=None, max_length=20)
    unit_price: NonNegative
    amount: DecimalStr | None = None


class RequisitionRequest(BaseModel):
    """A requisition as a person submits it; it is in the project's currency.

    `line_key` defaults to the line's position (1, 2, ...); `amount`, when
    sent, must be quantity x unit price rounded half-up to the currency.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str = Field(min_length=1, max_length=100)
    project_id: str = Field(min_length=1, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=64)
    commitment_type: CommitmentType = CommitmentType.PURCHASE_ORDER
    description: str = Field(default="", max_length=2000)
    # A subcontract's retention: rate (percent), cap, and release terms in words.
    retention_percent: Percent = Decimal(0)
    retention_cap: NonNegative | None = None
    retention_terms: str = Field(default="", max_length=500)
    lines: list[RequestedLine] = Field(min_length=1, max_length=500)


class AlreadySubmitted(PermanentError):
    """A requisition with this number was submitted in this legal entity."""

    def __init__(self, requisition: Requisition) -> None:
        super().__init__(
            f"requisition {requisition.number} was submitted already "
            f"(status {requisition.status.value})"
        )
        self.requisition = requisition


def requisition_origin(entity: LegalEntity, number: str) -> Origin:
    """Where a requisition submitted through tieline comes from (one per number)."""
    return Origin(system=HUB_SYSTEM, key=f"{entity.code}:{number}")


def submit_requisition(
    tx: Transaction, hub: Hub, request: RequisitionRequest, requester: Actor
) -> Requisition:
    """Check `request` and save it as a submitted requisition of `requester`.

    `requester` is the caller's identity from the policy's directory (a
    person or a service). Saved in `tx`; the workflow starts from its event.
    """
    record = f"requisition {request.number}"
    if requester.kind not in (ActorKind.PERSON, ActorKind.SERVICE):
        raise ValidationFailed(
            f"{requester.id} is no person or service of the workflow policy",
            record=record,
            field="requested_by",
        )
    project = _project(tx, request, record)
    entity = tx.get(LegalEntity, project.legal_entity_id)
    if entity is None:
        raise ValidationFailed(
            f"project {project.code} names legal entity {project.legal_entity_id}, "
            "which the store does not have",
            record=record,
            field="project_id",
        )
    _check_supplier(tx, request, record)
    lines = _lines(tx, request, project, record)
    requisition = Requisition(
        origin=requisition_origin(entity, request.number),
        number=request.number,
        legal_entity_id=entity.id,
        project_id=project.id,
        supplier_id=request.supplier_id,
        requested_by=_login(requester),
        commitment_type=request.commitment_type,
        currency=project.currency,
        description=request.description,
        retention_percent=request.retention_percent,
        retention_cap=request.retention_cap,
        retention_terms=request.retention_terms,
        lines=lines,
    )
    existing = tx.get(Requisition, requisition.id)
    if existing is not None:
        raise AlreadySubmitted(existing)
    # Refused now rather than dead-lettered by the workflow later.
    hub.policies.rule_for(
        subject(
            tx,
            DocumentType.REQUISITION,
            legal_entity_id=entity.id,
            project_id=project.id,
            amount=requisition.total(),
            contract_type=requisition.commitment_type.value,
        )
    )
    stored = tx.save(requisition, actor=requester.id).record
    assert isinstance(stored, Requisition)
    return stored


def _login(requester: Actor) -> str:
    """How the requisition names its requester: the login it came under.

    `system:login` (as `--as` takes it) keeps the system a person used, so
    the workflow records `procore:sam@site.example`, not tieline; tieline's
    own logins are the identity ids.
    """
    if requester.system == HUB_LOGINS or requester.login is None:
        return requester.id
    return f"{requester.system}:{requester.login}"


def _project(tx: Transaction, request: RequisitionRequest, record: str) -> Project:
    project = tx.get(Project, request.project_id)
    if project is None:
        raise ValidationFailed(
            f"no project {request.project_id}", record=record, field="project_id"
        )
    return project


def _check_supplier(tx: Transaction, request: RequisitionRequest, record: str) -> None:
    supplier = tx.get(Supplier, request.supplier_id)
    if supplier is None:
        raise ValidationFailed(
            f"no supplier {request.supplier_id}", record=record, field="supplier_id"
        )
    if supplier.status is SupplierStatus.BLOCKED:
        raise ValidationFailed(
            f"supplier {supplier.legal_name} is blocked",
            record=record,
            field="supplier_id",
        )
    if supplier.status is SupplierStatus.MERGED:
        raise ValidationFailed(
            f"supplier {supplier.legal_name} was merged into {supplier.merged_into}; "
            "ask that one",
            record=record,
            field="supplier_id",
        )


def _lines(
    tx: Transaction, request: RequisitionRequest, project: Project, record: str
) -> list[RequisitionLine]:
    known = _cost_codes(tx, project)
    seen: dict[str, int] = {}
    lines = []
    for index, line in enumerate(request.lines):
        where = f"lines[{index}]"
        key = line.line_key or str(index + 1)
        if key in seen:
            raise ValidationFailed(
                f"line {index + 1}: key {key!r} is used by line {seen[key] + 1}",
                record=record,
                field=f"{where}.line_key",
            )
        seen[key] = index
        if line.cost_code not in known:
            raise ValidationFailed(
                f"line {index + 1}: no cost code {line.cost_code!r} in "
                f"{project.cost_code_system} or project {project.code}'s own codes",
                record=record,
                field=f"{where}.cost_code",
            )
        amount = round_money(line.quantity * line.unit_price, project.currency)
        if line.amount is not None and line.amount != amount:
            raise ValidationFailed(
                f"line {index + 1}: {line.quantity} x {line.unit_price} = {amount}, "
                f"not {line.amount}",
                record=record,
                field=f"{where}.amount",
            )
        lines.append(
            RequisitionLine(
                line_key=key,
                description=line.description,
                cost_code=line.cost_code,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                amount=amount,
            )
        )
    return lines


def _cost_codes(tx: Transaction, project: Project) -> set[str]:
    """The codes a line of `project` may name: its system's and its own."""
    return {
        code.code
        for code in tx.list(CostCode)
        if code.project_id == project.id
        or (code.project_id is None and code.system == project.cost_code_system)
    }
