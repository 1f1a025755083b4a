"""Helpers the workflows share: policy subjects, contract values, requesters.

TODO: the store indexes records by kind, project and status only, so finding
a commitment's change orders, receipts, invoices or claims reads every record
of that kind; fine for thousands of documents, slow for millions (an index by
commitment id in the store would fix it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tieline.errors import RecordNotFound
from tieline.model import (
    CanonicalRecord,
    ChangeOrder,
    ChangeOrderStatus,
    Commitment,
    LegalEntity,
    Project,
)
from tieline.store import Transaction
from tieline.store._schema import records
from tieline.workflows._duties import party
from tieline.workflows._errors import UnknownLogin
from tieline.workflows._identity import HUB_LOGINS, Actor, ActorKind
from tieline.workflows._machine import Hub, Machine
from tieline.workflows._policy import ApprovalRule, Assignee, DocumentType, Subject

# How the records API names its callers on what they write (`Principal.actor`):
# a person, then a service.
API_CALLERS = ("human", "service")


def subject(
    tx: Transaction,
    document: DocumentType,
    *,
    legal_entity_id: str | None,
    project_id: str | None,
    amount: Decimal,
    contract_type: str = "",
) -> Subject:
    """The policy's view of a document: codes, not ids, and its amount."""
    project = tx.get(Project, project_id) if project_id else None
    entity_id = legal_entity_id or (project.legal_entity_id if project else None)
    entity = tx.get(LegalEntity, entity_id) if entity_id else None
    return Subject(
        document=document,
        legal_entity=entity.code if entity else "",
        project=project.code if project else "",
        amount=amount,
        contract_type=contract_type,
    )


def lock_commitment(tx: Transaction, commitment_id: str) -> None:
    """Hold the commitment's row until `tx` ends (PostgreSQL; SQLite has one writer).

    Matching an invoice reads the commitment's receipts and certificates, and
    a receipt or certificate re-matches the invoices held on the commitment.
    Each takes this lock first, so when the two arrive at once the second
    waits for the first to commit and then sees it (read committed): an
    invoice is never left held for a receipt that came in beside it.
    """
    tx.connection.execute(
        select(records.c.id).where(records.c.id == commitment_id).with_for_update()
    )


def legal_entity_code(tx: Transaction, legal_entity_id: str | None) -> str:
    """A legal entity's code (empty when unknown), for per-entity settings."""
    entity = tx.get(LegalEntity, legal_entity_id) if legal_entity_id else None
    return entity.code if entity else ""


def route(
    machine: Machine[Any], hub: Hub, found: Subject
) -> tuple[ApprovalRule, list[Assignee]]:
    """The rule for `found`, its assignees today, and a note of both in data."""
    rule = hub.policies.rule_for(found)
    assignees = hub.policies.assignees(rule, hub.clock().date())
    machine.data["rule"] = rule.name
    return rule, assignees


def submitter(hub: Hub, system: str, login: str | None) -> Actor:
    """Who sent a document: its mapped identity, else the sending system.

    A document tieline itself took in (`system` is `tieline`, as for a
    requisition submitted through the API or the CLI) names its requester as
    `--as` does: `system:login`, or a bare identity id.
    """
    if login and system == HUB_LOGINS:
        try:
            return hub.policies.directory.parse(login)
        except UnknownLogin:
            pass
    identity = hub.policies.directory.find(system, login) if login else None
    if identity is None:
        return Actor(
            id=f"system:{system}", kind=ActorKind.SYSTEM, system=system, login=login
        )
    kind = ActorKind(identity.kind.value)
    return Actor(id=identity.id, kind=kind, system=system, login=login)


def writer(hub: Hub, record: CanonicalRecord) -> Actor:
    """Who wrote `record` last: an API caller's identity, else as `submitter`.

    The records API stamps what it writes with its caller (`human:pm.pat`,
    `service:svc.procore`), whatever origin system the caller gave the
    record, so the caller is resolved as the workflow routes resolve one
    (their tieline identity name through the policy's directory). A person
    the directory does not know stays a person under that stamp: nobody can
    then be told apart from them, so `check_decider` refuses every decision
    on the document until the policy maps them (it fails closed rather than
    letting the requester approve under another login).
    """
    stamp = record.changed_by or ""
    kind, sep, name = stamp.partition(":")
    if not sep or kind not in API_CALLERS:
        return submitter(hub, record.origin.system, record.changed_by)
    try:
        return hub.policies.directory.parse(name)
    except UnknownLogin:
        # An unmapped service is a system sending data (it never decides);
        # an unmapped person is kept, so that the rule holds against them.
        unmapped = ActorKind.PERSON if kind == API_CALLERS[0] else ActorKind.SYSTEM
        return Actor(id=stamp, kind=unmapped, system=HUB_LOGINS, login=name)


def requester(actor: Actor) -> dict[str, str] | None:
    """How `data["requested_by"]` records a submitter who is an identity."""
    return None if actor.kind is ActorKind.SYSTEM else party(actor)


@dataclass(frozen=True, slots=True)
class ContractLine:
    """A commitment line's value after approved change orders."""

    line_key: str
    cost_code: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal


def contract_lines(tx: Transaction, commitment: Commitment) -> dict[str, ContractLine]:
    """Each line of `commitment` with its approved change orders applied."""
    lines = {
        line.line_key: ContractLine(
            line.line_key, line.cost_code, line.quantity, line.unit_price, line.amount
        )
        for line in commitment.lines
    }
    # TODO: change orders are found by reading every change order, since the
    # store indexes none by commitment; fine for thousands, slow for millions.
    for order in tx.list(ChangeOrder, status=ChangeOrderStatus.APPROVED.value):
        if order.commitment_id != commitment.id:
            continue
        for change in order.lines:
            known = lines.get(change.line_key)
            if known is None:
                lines[change.line_key] = ContractLine(
                    change.line_key,
                    change.cost_code,
                    change.quantity,
                    None,
                    change.amount,
                )
                continue
            quantity = known.quantity
            if quantity is not None and change.quantity is not None:
                quantity += change.quantity
            lines[change.line_key] = ContractLine(
                known.line_key,
                known.cost_code,
                quantity,
                known.unit_price,
                known.amount + change.amount,
            )
    return lines


def commitment_of(tx: Transaction, commitment_id: str) -> Commitment:
    """The commitment with this id; a missing one is a permanent error."""
    commitment = tx.get(Commitment, commitment_id)
    if commitment is None:
        raise RecordNotFound("commitment", commitment_id)
    return commitment
