"""Segregation of duties, checked on identities, not on logins.

The rules (issue "Governed construction workflows"):

- whoever requested a document cannot approve it;
- whoever approved an invoice cannot release its payment;
- a service identity can never approve (nor release, nor certify);
- only the persons the policy assigned to a step (approvers, their delegates
  while delegated, the escalation owner after a breach) may decide it;
- a document whose requester the policy maps to no identity (a person
  writing through the API, a site login nobody listed) is decided by nobody
  until it does: the first rule could not be checked, so it fails closed.

Each actor is resolved to one identity through the login mapping first, so
the rules hold when the two actions arrive from two systems under two logins
of the same person. A refusal names the person, both logins and the rule.
"""

from __future__ import annotations

from typing import Any

from tieline.workflows._errors import DutiesNotSegregated, NotAnApprover
from tieline.workflows._identity import Actor, ActorKind, Directory
from tieline.workflows._machine import Machine

REQUESTER_APPROVES = "requester cannot approve"
APPROVER_RELEASES = "approver cannot release payment"
SERVICE_DECIDES = "a service identity can never approve"
UNKNOWN_REQUESTER = "requester unknown to the policy"


def party(actor: Actor) -> dict[str, str]:
    """How a workflow remembers who did something: identity and login used."""
    return {"person": actor.id, "via": _via(actor)}


def check_decider(machine: Machine[Any], actor: Actor) -> None:
    """Refuse `actor` deciding the machine's current step, with the rule broken."""
    document = machine.instance.document_ref
    _check_person(actor, document)
    requester = machine.data.get("requested_by")
    if requester and _requester_id(machine, actor, requester) == actor.id:
        raise DutiesNotSegregated(
            REQUESTER_APPROVES,
            actor.id,
            document,
            f"requested it (as {requester['via']}) and cannot approve it "
            f"(as {_via(actor)})",
        )
    allowed = machine.assignees()
    if actor.id not in allowed:
        raise NotAnApprover(actor.id, document, allowed)


def barred(
    directory: Directory, workflow: str, state: str, data: Any, person: str
) -> bool:
    """Whether segregation of duties bars `person` from deciding this step.

    For listing tasks: their own request, or the payment of what they
    approved, is not theirs to decide (a decision would be refused).
    """
    if not isinstance(data, dict):
        return False
    requester = data.get("requested_by")
    if requester and _known_as(directory, requester) == person:
        return True
    approver = data.get("approved_by")
    releasing = (workflow, state) == ("invoice", "posted")
    return bool(releasing and approver and approver["person"] == person)


def _known_as(directory: Directory, recorded: dict[str, str]) -> str | None:
    """The identity id of a recorded party now, or None when the policy knows none."""
    if directory.get(recorded["person"]) is not None:
        return recorded["person"]
    system, _, login = recorded["via"].partition(":")
    found = directory.find(system, login)
    return None if found is None else found.id


def _requester_id(
    machine: Machine[Any], actor: Actor, requester: dict[str, str]
) -> str:
    """The requester's identity id now; refused when the policy knows none.

    A requester recorded under a login the policy did not map (a person
    writing through the API with no identity in the policy) is looked up
    again, in case the policy maps them since. Still unknown, nobody can be
    told apart from them, so every decision is refused (fail closed).
    """
    found = _known_as(machine.hub.policies.directory, requester)
    if found is not None:
        return found
    raise DutiesNotSegregated(
        UNKNOWN_REQUESTER,
        actor.id,
        machine.instance.document_ref,
        f"cannot decide it: it was requested as {requester['via']}, a login the "
        "workflow policy maps to no identity, so its requester cannot be told "
        "apart from its approver; map that login in the policy's identities",
    )


def check_releaser(machine: Machine[Any], actor: Actor) -> None:
    """Refuse `actor` releasing payment of a document they approved."""
    document = machine.instance.document_ref
    _check_person(actor, document)
    approver = machine.data.get("approved_by")
    if approver and approver["person"] == actor.id:
        raise DutiesNotSegregated(
            APPROVER_RELEASES,
            actor.id,
            document,
            f"approved it (as {approver['via']}) and cannot release its payment "
            f"(as {_via(actor)})",
        )
    allowed = machine.assignees()
    if actor.id not in allowed:
        raise NotAnApprover(actor.id, document, allowed)


def _check_person(actor: Actor, document: str) -> None:
    if actor.kind is not ActorKind.PERSON:
        raise DutiesNotSegregated(
            SERVICE_DECIDES,
            actor.id,
            document,
            f"is a {actor.kind.value} identity (via {_via(actor)}); only a "
            "person can decide",
        )


def _via(actor: Actor) -> str:
    return f"{actor.system}:{actor.login}" if actor.login else actor.system


def check_authorised(actor: Actor, document: str, allowed: list[str]) -> None:
    """Refuse anyone but a person among `allowed` (a decision with no waiting step)."""
    _check_person(actor, document)
    if actor.id not in allowed:
        raise NotAnApprover(actor.id, document, sorted(allowed))
