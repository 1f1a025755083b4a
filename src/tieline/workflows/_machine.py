"""The workflow engine: persisted state machines over business documents.

A workflow is declared once (`Spec`): its states (an Enum), which targets each
state may move to, and which states wait for a person or another system (a
step with a target time). `Machine` is the base of each workflow's class; the
class has one method per target state (`approved()`, `rejected()`...) that
calls `_move`, which refuses an undeclared move with a reason, stamps the time
the state was reached, records the transition (who or what, when, from which
system, under which correlation id), closes the old state's assignments and
timer, and saves the instance under an optimistic version check (a
concurrent move of the same instance is a `StoreBusy`, retried by consumers).

Everything runs inside the caller's store transaction, so a document's status,
its workflow state and the transition row commit together or not at all.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from sqlalchemy import Connection, delete, insert, or_, select, update

from tieline._context import current_causation_id, current_correlation_id, new_id
from tieline.errors import RecordNotFound, StoreBusy
from tieline.store import Transaction, as_utc
from tieline.workflows._errors import TransitionRefused
from tieline.workflows._identity import Actor
from tieline.workflows._policy import Assignee, PolicySet
from tieline.workflows._tables import (
    workflow_assignments,
    workflow_instances,
    workflow_timers,
    workflow_transitions,
)

S = TypeVar("S", bound=enum.StrEnum)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC: the engine's default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Spec(Generic[S]):
    """One workflow, declared in one place: states, moves and waiting steps.

    `waits` maps a state that waits for someone to its SLA step name.
    """

    name: str
    document_kind: str
    initial: S
    moves: Mapping[S, frozenset[S]]
    waits: Mapping[S, str] = field(default_factory=dict)

    def refusal(self, source: S, target: S) -> str | None:
        """Why `source` may not move to `target`, or None when it may."""
        allowed = self.moves.get(source, frozenset())
        if target in allowed:
            return None
        if not allowed:
            return f"{source.value} is final"
        names = ", ".join(sorted(s.value for s in allowed))
        return f"from {source.value} it can only go to {names}"


@dataclass(frozen=True)
class Hub:
    """What workflows need besides the transaction: policies and a clock."""

    policies: PolicySet
    clock: Clock = utc_now


@dataclass
class Instance:
    """One document's life in one workflow, as stored."""

    id: str
    workflow: str
    document_kind: str
    document_id: str
    document_ref: str
    state: str
    legal_entity_id: str | None
    project_id: str | None
    data: dict[str, Any]
    stamps: dict[str, str]
    version: int


@dataclass(frozen=True, slots=True)
class Timer:
    """A target time for the step a state waits on, and who owns a breach."""

    step: str
    due_at: datetime
    owner: str


class Machine(Generic[S]):
    """Base of a workflow's class; subclasses add one method per target state."""

    spec: ClassVar[Spec[Any]]

    def __init__(self, tx: Transaction, hub: Hub, instance: Instance) -> None:
        self.tx = tx
        self.hub = hub
        self.instance = instance

    @property
    def state(self) -> S:
        """The current state as the workflow's Enum."""
        state: S = type(self.spec.initial)(self.instance.state)
        return state

    @property
    def data(self) -> dict[str, Any]:
        """The workflow's own facts about the document (JSON-ready)."""
        return self.instance.data

    @classmethod
    def start(
        cls,
        tx: Transaction,
        hub: Hub,
        *,
        document_id: str,
        document_ref: str,
        actor: Actor,
        legal_entity_id: str | None = None,
        project_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> tuple[Self, bool]:
        """Start the document's workflow, or find it; True when it is new."""
        found = find_instance(tx.connection, cls.spec.name, document_id)
        if found is not None:
            return cls(tx, hub, found), False
        now = hub.clock()
        instance = Instance(
            id=new_id(),
            workflow=cls.spec.name,
            document_kind=cls.spec.document_kind,
            document_id=document_id,
            document_ref=document_ref,
            state=cls.spec.initial.value,
            legal_entity_id=legal_entity_id,
            project_id=project_id,
            data=dict(data or {}),
            stamps={cls.spec.initial.value: now.isoformat()},
            version=1,
        )
        _insert_instance(tx.connection, instance, now)
        _record(tx.connection, instance, None, instance.state, actor, None, now)
        return cls(tx, hub, instance), True

    @classmethod
    def load(cls, tx: Transaction, hub: Hub, document_id: str) -> Self:
        """The document's instance of this workflow; raises if it has none."""
        found = find_instance(tx.connection, cls.spec.name, document_id)
        if found is None:
            raise RecordNotFound(f"{cls.spec.name} workflow", document_id)
        return cls(tx, hub, found)

    def refuse(self, target: S, reason: str) -> TransitionRefused:
        """The error that refuses a move to `target` for a business reason."""
        return TransitionRefused(
            self.spec.name,
            self.instance.document_ref,
            self.instance.state,
            target.value,
            reason,
        )

    def stamp(self, state: S) -> datetime | None:
        """When the instance last reached `state`, if it did."""
        value = self.instance.stamps.get(state.value)
        return None if value is None else datetime.fromisoformat(value)

    def _move(
        self,
        target: S,
        actor: Actor,
        *,
        comment: str | None = None,
        assign: list[Assignee] | None = None,
        timer: Timer | None = None,
    ) -> None:
        """Move to `target`, or raise `TransitionRefused` saying why not."""
        source = self.state
        reason = self.spec.refusal(source, target)
        if reason is not None:
            raise self.refuse(target, reason)
        now = self.hub.clock()
        self.instance.state = target.value
        self.instance.stamps[target.value] = now.isoformat()
        connection = self.tx.connection
        _save_instance(connection, self.instance, now)
        _record(
            connection, self.instance, source.value, target.value, actor, comment, now
        )
        _leave_state(connection, self.instance.id)
        # Imported here: the SLA module builds on this one.
        from tieline.workflows._sla import close_breaches

        close_breaches(self.tx, self.hub, self.instance, source.value, actor)
        for assignee in assign or []:
            _assign(connection, self.instance, assignee, now)
        if timer is not None:
            _arm(connection, self.instance, timer)

    def follow(self, target: S, actor: Actor, comment: str) -> None:
        """Record a move the document's own system made (see `_owned`)."""
        self._move(target, actor, comment=comment)

    def wait(self, assign: list[Assignee], timer: Timer | None) -> None:
        """Assign the current (initial) state's deciders and arm its timer."""
        now = self.hub.clock()
        for assignee in assign:
            _assign(self.tx.connection, self.instance, assignee, now)
        if timer is not None:
            _arm(self.tx.connection, self.instance, timer)

    def timer(self, state: S, owner: str) -> Timer | None:
        """The timer of `state`'s step from now, if the state has a step."""
        step = self.spec.waits.get(state)
        if step is None:
            return None
        due = self.hub.clock() + self.hub.policies.sla(step)
        return Timer(step=step, due_at=due, owner=owner)

    def assignees(self) -> list[str]:
        """Who may decide the current state."""
        rows = self.tx.connection.execute(
            select(workflow_assignments.c.person).where(
                workflow_assignments.c.instance_id == self.instance.id
            )
        )
        return sorted(row.person for row in rows)

    def save_data(self) -> None:
        """Persist changes made to `data` without a move."""
        _save_instance(self.tx.connection, self.instance, self.hub.clock())


def find_instance(
    connection: Connection, workflow: str, document_id: str
) -> Instance | None:
    """The instance of `workflow` for the document, or None."""
    row = connection.execute(
        select(workflow_instances).where(
            workflow_instances.c.workflow == workflow,
            workflow_instances.c.document_id == document_id,
        )
    ).first()
    return None if row is None else _to_instance(row._mapping)


def instance_by_id(connection: Connection, instance_id: str) -> Instance:
    """The instance with this id (it must exist)."""
    row = connection.execute(
        select(workflow_instances).where(workflow_instances.c.id == instance_id)
    ).one()
    return _to_instance(row._mapping)


def instances_of(connection: Connection, document: str) -> list[Instance]:
    """Every instance whose document id or reference is `document`."""
    rows = connection.execute(
        select(workflow_instances)
        .where(
            or_(
                workflow_instances.c.document_id == document,
                workflow_instances.c.document_ref == document,
            )
        )
        .order_by(workflow_instances.c.created_at)
    )
    return [_to_instance(row._mapping) for row in rows]


def _to_instance(row: Any) -> Instance:
    return Instance(
        id=row["id"],
        workflow=row["workflow"],
        document_kind=row["document_kind"],
        document_id=row["document_id"],
        document_ref=row["document_ref"],
        state=row["state"],
        legal_entity_id=row["legal_entity_id"],
        project_id=row["project_id"],
        data=dict(row["data"]),
        stamps=dict(row["stamps"]),
        version=row["version"],
    )


def _insert_instance(connection: Connection, instance: Instance, now: datetime) -> None:
    connection.execute(
        insert(workflow_instances).values(
            id=instance.id,
            workflow=instance.workflow,
            document_kind=instance.document_kind,
            document_id=instance.document_id,
            document_ref=instance.document_ref,
            state=instance.state,
            legal_entity_id=instance.legal_entity_id,
            project_id=instance.project_id,
            data=instance.data,
            stamps=instance.stamps,
            version=instance.version,
            created_at=now,
            updated_at=now,
        )
    )


def _save_instance(connection: Connection, instance: Instance, now: datetime) -> None:
    result = connection.execute(
        update(workflow_instances)
        .where(
            workflow_instances.c.id == instance.id,
            workflow_instances.c.version == instance.version,
        )
        .values(
            state=instance.state,
            data=instance.data,
            stamps=instance.stamps,
            version=instance.version + 1,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise StoreBusy(
            f"{instance.workflow} {instance.document_ref} was moved by someone else"
        )
    instance.version += 1


def _record(
    connection: Connection,
    instance: Instance,
    source: str | None,
    target: str,
    actor: Actor,
    comment: str | None,
    now: datetime,
) -> None:
    connection.execute(
        insert(workflow_transitions).values(
            instance_id=instance.id,
            document_id=instance.document_id,
            from_state=source,
            to_state=target,
            actor=actor.id,
            actor_kind=actor.kind.value,
            system=actor.system,
            login=actor.login,
            correlation_id=current_correlation_id(),
            causation_id=current_causation_id(),
            comment=comment,
            at=now,
        )
    )


def _leave_state(connection: Connection, instance_id: str) -> None:
    connection.execute(
        delete(workflow_assignments).where(
            workflow_assignments.c.instance_id == instance_id
        )
    )
    connection.execute(
        update(workflow_timers)
        .where(
            workflow_timers.c.instance_id == instance_id,
            workflow_timers.c.status == "armed",
        )
        .values(status="stopped")
    )


def _assign(
    connection: Connection, instance: Instance, assignee: Assignee, now: datetime
) -> None:
    exists = connection.execute(
        select(workflow_assignments.c.person).where(
            workflow_assignments.c.instance_id == instance.id,
            workflow_assignments.c.person == assignee.person,
        )
    ).first()
    if exists is None:
        connection.execute(
            insert(workflow_assignments).values(
                instance_id=instance.id,
                person=assignee.person,
                state=instance.state,
                reason=assignee.reason,
                assigned_at=now,
            )
        )


def _arm(connection: Connection, instance: Instance, timer: Timer) -> None:
    # One timer per (instance, state): re-entering a state re-arms it.
    connection.execute(
        delete(workflow_timers).where(
            workflow_timers.c.instance_id == instance.id,
            workflow_timers.c.state == instance.state,
        )
    )
    connection.execute(
        insert(workflow_timers).values(
            instance_id=instance.id,
            state=instance.state,
            step=timer.step,
            due_at=timer.due_at,
            owner=timer.owner,
            status="armed",
        )
    )


def assign_person(tx: Transaction, hub: Hub, instance: Instance, person: str) -> None:
    """Add a decider to an instance's current state (an escalation, say)."""
    _assign(tx.connection, instance, Assignee(person, "escalated"), hub.clock())


__all__ = [
    "Clock",
    "Hub",
    "Instance",
    "Machine",
    "Spec",
    "Timer",
    "as_utc",
    "assign_person",
    "find_instance",
    "instance_by_id",
    "instances_of",
    "utc_now",
]
