"""The exception queue as people work it: list, show, assign, comment, resolve.

Plain functions over a store and a `Hub`, like `tieline.workflows.people`,
so the CLI prints what they return and an API route or a console page can
return it as it is. The acting person is given as `system:login` (or a bare
identity id) and resolved through the policy's identity mapping first.

Who may do what (the same footing as deciding a document):

- acting needs a person the mapping knows; a service identity is refused
  (segregation of duties: an integration's account moves data, it does not
  judge exceptions), and so is an unknown login;
- assigning and resolving are for the exception's owner and the queue's
  supervisor (the policy's `[exceptions] default_owner`);
- any person of the mapping may comment (a colleague adds what they know);
- an exception is assigned only to a person of the mapping;
- a resolution needs a note saying how; a resolved exception takes no more
  changes.

Choice: assigning an exception hands over the exception, not the document.
The breach gave its first owner a say on the document; a later owner gets
one only through the approval policy, so handing an exception round never
widens who may approve.
"""

from __future__ import annotations

from dataclasses import dataclass

from tieline.errors import PermanentError
from tieline.store import Store
from tieline.workflows._errors import DutiesNotSegregated
from tieline.workflows._identity import Actor, ActorKind, IdentityKind
from tieline.workflows._machine import Hub, instance_by_id
from tieline.workflows._sla import (
    WorkflowException,
    assign_exception,
    comment_exception,
    get_exception,
    list_exceptions,
    open_exception,
    resolve_exception,
)

SERVICE_HANDLES = "a service identity cannot handle exceptions"


class NotExceptionOwner(PermanentError):
    """Only the owner or the queue's supervisor may assign or resolve."""

    def __init__(
        self, exception: WorkflowException, person: str, action: str, supervisor: str
    ) -> None:
        super().__init__(
            f"exception {exception.id} ({exception.document_ref}): {person} may "
            f"not {action} it; its owner {exception.owner} or the queue's "
            f"supervisor {supervisor} may"
        )
        self.exception_id = exception.id
        self.person = person


class NoteRequired(PermanentError):
    """A resolution without a note saying how."""


@dataclass(frozen=True, slots=True)
class ExceptionDetail:
    """An exception with where its document stands now."""

    exception: WorkflowException
    workflow: str
    document_id: str
    document_state: str


def exception_queue(
    store: Store, hub: Hub, *, owner: str | None = None, status: str | None = "open"
) -> list[WorkflowException]:
    """Exceptions oldest first; of one owner (a login or an id) and status."""
    owner_id = None if owner is None else hub.policies.directory.parse(owner).id
    with store.engine.connect() as connection:
        return list_exceptions(connection, owner=owner_id, status=status)


def exception_detail(store: Store, exception_id: int) -> ExceptionDetail:
    """One exception, its notes, and its document's workflow and state."""
    with store.engine.connect() as connection:
        found = get_exception(connection, exception_id)
        instance = instance_by_id(connection, found.instance_id)
    return ExceptionDetail(
        exception=found,
        workflow=instance.workflow,
        document_id=instance.document_id,
        document_state=instance.state,
    )


def assign(
    store: Store, hub: Hub, exception_id: int, to: str, who: str
) -> WorkflowException:
    """Hand an open exception to another person (owner or supervisor only)."""
    actor = _person(hub, who, exception_id, "assign")
    owner = _person(hub, to, exception_id, "own")
    with store.transaction() as tx:
        found = open_exception(tx.connection, exception_id)
        _check_owner(hub, found, actor, "assign")
        return assign_exception(tx, hub, exception_id, owner.id, by=actor.id)


def comment(
    store: Store, hub: Hub, exception_id: int, who: str, text: str
) -> WorkflowException:
    """Add a person's note to an open exception."""
    actor = _person(hub, who, exception_id, "comment on")
    if not text.strip():
        raise NoteRequired(f"exception {exception_id}: a comment needs some text")
    with store.transaction() as tx:
        return comment_exception(tx, hub, exception_id, actor.id, text.strip())


def resolve(
    store: Store, hub: Hub, exception_id: int, who: str, note: str
) -> WorkflowException:
    """Close an open exception with a note (owner or supervisor only)."""
    actor = _person(hub, who, exception_id, "resolve")
    if not note.strip():
        raise NoteRequired(
            f"exception {exception_id}: a resolution needs a note saying how"
        )
    with store.transaction() as tx:
        found = open_exception(tx.connection, exception_id)
        _check_owner(hub, found, actor, "resolve")
        return resolve_exception(tx, hub, exception_id, by=actor.id, note=note.strip())


def _person(hub: Hub, who: str, exception_id: int, action: str) -> Actor:
    """The person behind `who`; an unknown login or a service is refused."""
    actor = hub.policies.directory.parse(who)
    identity = hub.policies.directory.get(actor.id)
    if actor.kind is not ActorKind.PERSON or (
        identity is not None and identity.kind is not IdentityKind.PERSON
    ):
        via = f"{actor.system}:{actor.login}" if actor.login else actor.system
        raise DutiesNotSegregated(
            SERVICE_HANDLES,
            actor.id,
            f"exception {exception_id}",
            f"is a {actor.kind.value} identity (via {via}); only a person can "
            f"{action} an exception",
        )
    return actor


def _check_owner(hub: Hub, found: WorkflowException, actor: Actor, action: str) -> None:
    supervisor = hub.policies.default_owner
    if actor.id not in (found.owner, supervisor):
        raise NotExceptionOwner(found, actor.id, action, supervisor)
