"""SLA timers and the exception queue.

Operator's notes
----------------
Entering a state that waits (a requisition awaiting approval, an approved
invoice awaiting payment release...) arms a timer row with its due time;
leaving the state stops it. Timers live in the database, so they survive a
restart: `sweep(store, hub)` fires every armed timer whose time has passed,
whenever it runs and whichever process runs it. Firing one, in one
transaction: the timer is marked fired (a second sweeper finds nothing), an
exception is opened for the step's owner (the rule's `escalate_to`, else the
policy's default owner), the owner is assigned to the document so they may
decide it, and a `tieline.workflow.sla_breached` event is written. When
the document then leaves the late state (approved, rejected, ordered...),
the breach's exception is resolved with a note naming who moved it on.

Log lines: `sla.breached` (warning: document, step, owner, due_at).

Workflows also queue exceptions that are not late steps (`queue_exception`:
an over-receipt on an order), owned by the policy's default owner and
announced by a `tieline.workflow.exception_opened` event.

TODO: the issue's "receipt to accrual" step has no timer: accruals are
figures tieline computes at once (`tieline.reports.accruals`), not postings
sent to the ERP, so there is nothing yet that could be late.

`tieline serve` runs the sweep as the periodic job `sla-sweep` every
`TIELINE_SLA_SWEEP_INTERVAL` seconds (default 60) when a policy is in place;
`tieline sla-sweep` runs it once by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from tieline.errors import PermanentError, RecordNotFound
from tieline.logging import get_logger
from tieline.store import Store, Transaction
from tieline.workflows._identity import Actor
from tieline.workflows._machine import (
    Hub,
    Instance,
    as_utc,
    assign_person,
    instance_by_id,
)
from tieline.workflows._tables import (
    workflow_exception_notes,
    workflow_exceptions,
    workflow_timers,
)

log = get_logger(__name__)

BREACHED = "tieline.workflow.sla_breached"
OPEN, RESOLVED_STATUS = "open", "resolved"
RESOLVED = "tieline.workflow.exception_resolved"
OPENED = "tieline.workflow.exception_opened"


class ExceptionClosed(PermanentError):
    """The exception was resolved: it is not assigned, noted or resolved again."""


@dataclass(frozen=True, slots=True)
class ExceptionNote:
    """One note on an exception: who wrote it, when, and what."""

    author: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class WorkflowException:
    """An item on the exception queue, with its owner and notes.

    `notes` reads "author: text", oldest first; `entries` are the same notes
    with their times.
    """

    id: int
    document_ref: str
    reason: str
    owner: str
    status: str
    created_at: datetime
    notes: tuple[str, ...] = ()
    instance_id: str = ""
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    entries: tuple[ExceptionNote, ...] = ()

    @property
    def open(self) -> bool:
        """Whether it still waits for someone."""
        return self.status == OPEN


def sweep(store: Store, hub: Hub) -> list[WorkflowException]:
    """Fire every armed timer that is due; returns the exceptions it opened."""
    now = hub.clock()
    with store.transaction() as tx:
        due = tx.connection.execute(
            select(workflow_timers.c.id)
            .where(workflow_timers.c.status == "armed", workflow_timers.c.due_at <= now)
            .order_by(workflow_timers.c.due_at)
        ).all()
    opened = []
    for row in due:
        with store.transaction() as tx:
            found = _fire(tx, hub, row.id, now)
        if found is not None:
            opened.append(found)
    return opened


def _fire(
    tx: Transaction, hub: Hub, timer_id: int, now: datetime
) -> WorkflowException | None:
    claimed = tx.connection.execute(
        update(workflow_timers)
        .where(workflow_timers.c.id == timer_id, workflow_timers.c.status == "armed")
        .values(status="fired", fired_at=now)
        .returning(workflow_timers)
    ).first()
    if claimed is None:  # another sweeper fired it, or the step moved on
        return None
    timer = claimed._mapping
    instance = instance_by_id(tx.connection, timer["instance_id"])
    due_at = as_utc(timer["due_at"])
    reason = _breach_reason(
        timer["step"], instance.document_ref, due_at, instance.state
    )
    exception_id = _open(tx.connection, instance, reason, timer["owner"], now)
    assign_person(tx, hub, instance, timer["owner"])
    tx.emit(
        BREACHED,
        f"{instance.document_kind}/{instance.document_id}",
        {
            "workflow": instance.workflow,
            "document_ref": instance.document_ref,
            "step": timer["step"],
            "state": instance.state,
            "due_at": due_at.isoformat(),
            "owner": timer["owner"],
            "exception_id": exception_id,
        },
    )
    log.warning(
        "sla.breached",
        document=instance.document_ref,
        step=timer["step"],
        owner=timer["owner"],
        due_at=due_at.isoformat(),
    )
    return get_exception(tx.connection, exception_id)


def _breach_reason(step: str, document_ref: str, due_at: datetime, state: str) -> str:
    return f"{step} of {document_ref} was due {due_at.isoformat()} and is still {state}"


def close_breaches(
    tx: Transaction, hub: Hub, instance: Instance, left: str, by: Actor
) -> None:
    """Resolve the open SLA exceptions of state `left`, which the document left.

    A breach says a step is late; once the step is done (approved, rejected,
    ordered...) nothing is late any more, and an exception left open would
    send its owner after a document that needs nobody. Exceptions queued for
    other reasons (an over-receipt) stay open: someone must still look.
    """
    fired = tx.connection.execute(
        select(workflow_timers).where(
            workflow_timers.c.instance_id == instance.id,
            workflow_timers.c.state == left,
            workflow_timers.c.status == "fired",
        )
    ).all()
    reasons = {
        _breach_reason(t.step, instance.document_ref, as_utc(t.due_at), left)
        for t in fired
    }
    if not reasons:
        return
    rows = tx.connection.execute(
        select(workflow_exceptions.c.id, workflow_exceptions.c.reason).where(
            workflow_exceptions.c.instance_id == instance.id,
            workflow_exceptions.c.status == OPEN,
        )
    ).all()
    note = f"{instance.document_ref} moved on from {left} to {instance.state}, by {by}"
    for row in rows:
        if row.reason in reasons:
            resolve_exception(tx, hub, row.id, by=by.id, note=note)


def _open(
    connection: Connection, instance: Instance, reason: str, owner: str, now: datetime
) -> int:
    inserted = connection.execute(
        insert(workflow_exceptions)
        .values(
            instance_id=instance.id,
            document_ref=instance.document_ref,
            reason=reason,
            owner=owner,
            status=OPEN,
            created_at=now,
        )
        .returning(workflow_exceptions.c.id)
    ).scalar_one()
    return int(inserted)


def queue_exception(
    tx: Transaction, hub: Hub, instance: Instance, reason: str, owner: str
) -> WorkflowException:
    """Put something a person must look at (not a late step) on the queue.

    An over-receipt, say: the workflow goes on, and the exception's owner
    finds it in their tasks with `reason`. Writes `OPENED` in `tx`.
    """
    exception_id = _open(tx.connection, instance, reason, owner, hub.clock())
    tx.emit(
        OPENED,
        f"{instance.document_kind}/{instance.document_id}",
        {
            "workflow": instance.workflow,
            "document_ref": instance.document_ref,
            "state": instance.state,
            "reason": reason,
            "owner": owner,
            "exception_id": exception_id,
        },
    )
    return get_exception(tx.connection, exception_id)


def get_exception(connection: Connection, exception_id: int) -> WorkflowException:
    """One exception with its notes; raises if there is none."""
    row = connection.execute(
        select(workflow_exceptions).where(workflow_exceptions.c.id == exception_id)
    ).first()
    if row is None:
        raise RecordNotFound("workflow exception", str(exception_id))
    entries = tuple(
        ExceptionNote(n.author, n.text, as_utc(n.at))
        for n in connection.execute(
            select(workflow_exception_notes)
            .where(workflow_exception_notes.c.exception_id == exception_id)
            .order_by(workflow_exception_notes.c.id)
        )
    )
    return WorkflowException(
        id=row.id,
        document_ref=row.document_ref,
        reason=row.reason,
        owner=row.owner,
        status=row.status,
        created_at=as_utc(row.created_at),
        notes=tuple(f"{n.author}: {n.text}" for n in entries),
        instance_id=row.instance_id,
        resolved_by=row.resolved_by,
        resolved_at=None if row.resolved_at is None else as_utc(row.resolved_at),
        entries=entries,
    )


def open_exception(connection: Connection, exception_id: int) -> WorkflowException:
    """The exception, if it is still open; a resolved one is refused."""
    found = get_exception(connection, exception_id)
    if not found.open:
        raise ExceptionClosed(
            f"exception {exception_id} ({found.document_ref}) was resolved by "
            f"{found.resolved_by}; it takes no more changes"
        )
    return found


def list_exceptions(
    connection: Connection, *, owner: str | None = None, status: str | None = OPEN
) -> list[WorkflowException]:
    """Exceptions, oldest first, of one owner and status when given."""
    query = select(workflow_exceptions.c.id).order_by(workflow_exceptions.c.id)
    if owner is not None:
        query = query.where(workflow_exceptions.c.owner == owner)
    if status is not None:
        query = query.where(workflow_exceptions.c.status == status)
    return [get_exception(connection, row.id) for row in connection.execute(query)]


def assign_exception(
    tx: Transaction, hub: Hub, exception_id: int, owner: str, *, by: str
) -> WorkflowException:
    """Hand an open exception to another owner (noted with who did it)."""
    open_exception(tx.connection, exception_id)
    tx.connection.execute(
        update(workflow_exceptions)
        .where(workflow_exceptions.c.id == exception_id)
        .values(owner=owner)
    )
    return comment_exception(tx, hub, exception_id, by, f"assigned to {owner}")


def comment_exception(
    tx: Transaction, hub: Hub, exception_id: int, author: str, text: str
) -> WorkflowException:
    """Add a note to an open exception."""
    open_exception(tx.connection, exception_id)
    tx.connection.execute(
        insert(workflow_exception_notes).values(
            exception_id=exception_id, author=author, text=text, at=hub.clock()
        )
    )
    return get_exception(tx.connection, exception_id)


def resolve_exception(
    tx: Transaction, hub: Hub, exception_id: int, *, by: str, note: str
) -> WorkflowException:
    """Close an exception with a note saying how it was resolved."""
    comment_exception(tx, hub, exception_id, by, note)
    tx.connection.execute(
        update(workflow_exceptions)
        .where(workflow_exceptions.c.id == exception_id)
        .values(status=RESOLVED_STATUS, resolved_by=by, resolved_at=hub.clock())
    )
    resolved = get_exception(tx.connection, exception_id)
    tx.emit(
        RESOLVED,
        f"workflow_exception/{exception_id}",
        {"document_ref": resolved.document_ref, "resolved_by": by, "note": note},
    )
    return resolved
