"""Decisions a document's own system made, recorded in its workflow.

The records API lets one writer besides the workflows set a decided status:
the integration of the record's origin system (`tieline.governance.decisions`;
Odoo paying a bill it holds, a project-controls system approving its own
change order). Such a write moves the document's workflow as well, so its
history says who decided (the system, through which integration login) and
what follows runs as after a person's decision.

A decision the workflow cannot follow from where it stands (a bill paid
before anyone released its payment, a change approved after it was
rejected here) is not forced: the document goes on the exception queue,
naming both, for a person to settle. Each status is followed or flagged
once per document, so a later write of another field does not flag it again.
"""

from __future__ import annotations

from typing import Any, Final

from tieline.logging import get_logger
from tieline.model import CanonicalRecord
from tieline.store import Transaction
from tieline.workflows._identity import Actor, ActorKind
from tieline.workflows._machine import Hub, Machine, find_instance
from tieline.workflows._sla import queue_exception
from tieline.workflows.changes import BudgetRevisionFlow, ChangeOrderFlow
from tieline.workflows.invoices import InvoiceFlow
from tieline.workflows.valuations import ClaimFlow

log = get_logger(__name__)

# kind -> the workflow, and which record statuses are which of its states.
FOLLOWED: Final[dict[str, tuple[type[Machine[Any]], dict[str, str]]]] = {
    "supplier_invoice": (
        InvoiceFlow,
        {s: s for s in ("approved", "rejected", "posted", "paid")},
    ),
    "progress_claim": (ClaimFlow, {s: s for s in ("certified", "rejected")}),
    "budget_revision": (BudgetRevisionFlow, {s: s for s in ("approved", "rejected")}),
    "change_order": (ChangeOrderFlow, {s: s for s in ("approved", "rejected")}),
}

# How the records API stamps a service caller (`Principal.actor`).
_SERVICE = "service:"


def follow_owner(tx: Transaction, hub: Hub, record: CanonicalRecord) -> None:
    """Move the record's workflow to the status its own system wrote (idempotent)."""
    followed = FOLLOWED.get(record.kind)
    status = record.status_value
    integration = _owning_integration(record)
    if followed is None or status is None or integration is None:
        return
    flow_type, states = followed
    target = states.get(status)
    if target is None:
        return
    flow = _instance(tx, hub, flow_type, record.id)
    if flow is None or flow.state.value == target:
        return
    seen: list[str] = flow.data.setdefault("owner_decisions", [])
    if status in seen:
        return
    seen.append(status)
    actor = Actor(
        id=f"system:{record.origin.system}",
        kind=ActorKind.SYSTEM,
        system=record.origin.system,
        login=integration,
    )
    state = type(flow.spec.initial)(target)
    refusal = flow.spec.refusal(flow.state, state)
    if refusal is None:
        flow.save_data()
        flow.follow(state, actor, f"{status} in {record.origin.system}")
        return
    flow.save_data()
    _flag(tx, hub, flow, record, status, refusal)


def _owning_integration(record: CanonicalRecord) -> str | None:
    """The service that wrote `record` when it is its origin system's, else None."""
    stamp = record.changed_by or ""
    if not stamp.startswith(_SERVICE):
        return None
    name = stamp.removeprefix(_SERVICE)
    return name if name == record.origin.system else None


def _instance(
    tx: Transaction, hub: Hub, flow_type: type[Machine[Any]], document_id: str
) -> Machine[Any] | None:
    found = find_instance(tx.connection, flow_type.spec.name, document_id)
    return None if found is None else flow_type(tx, hub, found)


def _flag(
    tx: Transaction,
    hub: Hub,
    flow: Machine[Any],
    record: CanonicalRecord,
    status: str,
    refusal: str,
) -> None:
    reason = (
        f"{flow.instance.document_ref}: {record.origin.system} wrote it {status}, "
        f"which its {flow.spec.name} workflow cannot follow ({refusal}); settle "
        "it with that system"
    )
    queue_exception(tx, hub, flow.instance, reason, hub.policies.owner(None))
    log.warning(
        "workflow.owner_decision_not_followed",
        workflow=flow.spec.name,
        document=flow.instance.document_ref,
        status=status,
        system=record.origin.system,
    )
