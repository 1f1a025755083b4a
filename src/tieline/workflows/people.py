"""What people do with workflows: their tasks, decisions, and a document's history.

Plain functions over a store and a `Hub`, returning plain dataclasses, so the
CLI prints them and an API route or a console page can return them as they
are. The acting person is given as `system:login` (or a bare identity id, as
tieline's own login) and resolved through the identity mapping first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tieline.errors import PermanentError, RecordNotFound, ValidationFailed
from tieline.store import Store, Transaction
from tieline.workflows._duties import barred
from tieline.workflows._machine import Hub, Instance, as_utc, instances_of
from tieline.workflows._sla import list_exceptions
from tieline.workflows._tables import (
    workflow_assignments,
    workflow_instances,
    workflow_timers,
    workflow_transitions,
)
from tieline.workflows.changes import decide_change
from tieline.workflows.invoices import (
    InvoiceState,
    approve_invoice,
    reject_invoice,
    release_payment,
)
from tieline.workflows.requisitions import approve_requisition, reject_requisition
from tieline.workflows.valuations import Certification, certify_claim, reject_claim


@dataclass(frozen=True, slots=True)
class Task:
    """A document waiting for a person's decision."""

    document_ref: str
    document_id: str
    workflow: str
    state: str
    reason: str
    due_at: datetime | None
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One transition of a document, as recorded."""

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


class NothingToDecide(PermanentError):
    """The document is in no state that waits for the decision asked."""


def tasks_for(store: Store, hub: Hub, who: str) -> list[Task]:
    """What waits for `who`: assignments they may decide, exceptions they own."""
    person = hub.policies.directory.parse(who).id
    with store.transaction() as tx:
        rows = tx.connection.execute(
            select(workflow_instances, workflow_assignments.c.reason.label("why"))
            .join(
                workflow_assignments,
                workflow_assignments.c.instance_id == workflow_instances.c.id,
            )
            .where(workflow_assignments.c.person == person)
            .order_by(workflow_instances.c.updated_at)
        ).all()
        # Segregation of duties would refuse them their own requests (and the
        # payment of what they approved): those are not their tasks.
        directory = hub.policies.directory
        tasks = [
            _task(tx, row._mapping)
            for row in rows
            if not barred(directory, row.workflow, row.state, row.data, person)
        ]
        for exception in list_exceptions(tx.connection, owner=person):
            tasks.append(
                Task(
                    exception.document_ref,
                    "",
                    "exception",
                    "open",
                    exception.reason,
                    None,
                    exception.notes,
                )
            )
    return tasks


def _task(tx: Transaction, row: Any) -> Task:
    due = tx.connection.execute(
        select(workflow_timers.c.due_at).where(
            workflow_timers.c.instance_id == row["id"],
            workflow_timers.c.status.in_(("armed", "fired")),
        )
    ).scalar()
    data = row["data"]
    details = tuple(data.get("differences", ())) if isinstance(data, dict) else ()
    return Task(
        document_ref=str(row["document_ref"]),
        document_id=str(row["document_id"]),
        workflow=str(row["workflow"]),
        state=str(row["state"]),
        reason=str(row["why"]),
        due_at=None if due is None else as_utc(due),
        details=details,
    )


def _waiting(tx: Transaction, document: str) -> Instance:
    found = [i for i in instances_of(tx.connection, document) if _decidable(i)]
    if not found:
        raise NothingToDecide(f"{document} waits for no decision")
    if len(found) > 1:
        names = ", ".join(f"{i.workflow} {i.document_id}" for i in found)
        raise NothingToDecide(
            f"{document} names several documents ({names}); use an id"
        )
    return found[0]


_DECIDABLE = {
    ("requisition", "submitted"),
    ("invoice", "awaiting_approval"),
    ("invoice", InvoiceState.POSTED.value),
    ("claim", "submitted"),
    ("budget_revision", "submitted"),
    ("change_order", "submitted"),
}


def _decidable(instance: Instance) -> bool:
    return (instance.workflow, instance.state) in _DECIDABLE


def approve(
    store: Store,
    hub: Hub,
    document: str,
    who: str,
    comment: str | None = None,
    *,
    certified: Mapping[str, Decimal] | None = None,
    allow_reduction: bool = False,
) -> str:
    """Approve what `document` waits for (a posted invoice: release its payment).

    For a progress claim, `certified` gives the work certified to date per
    line key (less than claimed, if so decided) and `allow_reduction` lets a
    line fall below its previous certificate (see `valuations`); any other
    document refuses them.
    """
    actor = hub.policies.directory.parse(who)
    with store.transaction() as tx:
        instance = _waiting(tx, document)
        doc_id, flow = instance.document_id, instance.workflow
        if (certified or allow_reduction) and flow != "claim":
            raise NothingToDecide(
                f"{instance.document_ref}: certified amounts are given only when "
                "certifying a progress claim"
            )
        if flow == "requisition":
            approve_requisition(tx, hub, doc_id, actor, comment)
        elif flow == "invoice" and instance.state == InvoiceState.POSTED.value:
            release_payment(tx, hub, doc_id, actor, comment)
            return f"{instance.document_ref}: payment released"
        elif flow == "invoice":
            approve_invoice(tx, hub, doc_id, actor, comment)
        elif flow == "claim":
            decision = Certification(dict(certified or {}), allow_reduction)
            done = certify_claim(tx, hub, doc_id, actor, comment, decision)
            return (
                f"{instance.document_ref}: certified {done.certified_to_date()} to "
                f"date, retention held {done.retention_held()}, amount due "
                f"{done.amount_due()}"
            )
        else:
            decide_change(tx, hub, doc_id, actor, comment, approve=True)
    return f"{instance.document_ref}: approved"


def reject(store: Store, hub: Hub, document: str, who: str, comment: str) -> str:
    """Reject what `document` waits for; the comment says why (required)."""
    if not comment.strip():
        raise ValidationFailed(
            "a rejection says why: give a comment",
            record=document,
            field="comment",
        )
    actor = hub.policies.directory.parse(who)
    with store.transaction() as tx:
        instance = _waiting(tx, document)
        doc_id, flow = instance.document_id, instance.workflow
        if flow == "requisition":
            reject_requisition(tx, hub, doc_id, actor, comment)
        elif flow == "invoice" and instance.state != InvoiceState.POSTED.value:
            reject_invoice(tx, hub, doc_id, actor, comment)
        elif flow == "claim":
            reject_claim(tx, hub, doc_id, actor, comment)
        elif flow in ("budget_revision", "change_order"):
            decide_change(tx, hub, doc_id, actor, comment, approve=False)
        else:
            raise NothingToDecide(
                f"{instance.document_ref}: a posted invoice is not rejected"
            )
    return f"{instance.document_ref}: rejected"


def history(store: Store, document: str) -> list[HistoryEntry]:
    """Every transition of the documents `document` names, in order."""
    with store.transaction() as tx:
        instances = instances_of(tx.connection, document)
        if not instances:
            raise RecordNotFound("workflow document", document)
        names = {i.id: i.workflow for i in instances}
        rows = tx.connection.execute(
            select(workflow_transitions)
            .where(workflow_transitions.c.instance_id.in_(names))
            .order_by(workflow_transitions.c.seq)
        ).all()
    return [
        HistoryEntry(
            workflow=names[row.instance_id],
            at=as_utc(row.at),
            from_state=row.from_state,
            to_state=row.to_state,
            actor=row.actor,
            actor_kind=row.actor_kind,
            system=row.system,
            login=row.login,
            correlation_id=row.correlation_id,
            comment=row.comment,
        )
        for row in rows
    ]
