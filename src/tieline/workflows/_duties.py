"""Segregation of duties, checked on identities, not on logins.

The rules (issue "Governed construction workflows"):

- whoever requested a document cannot approve it;
- whoever approved an invoice cannot release its payment;
- a service identity can never approve (nor release, nor certify);
- only the persons the policy assigned to a step (approvers, their delegates
  while delegated, the escalation owner after a breach) may decide it.

Each actor is resolved to one identity through the login mapping first, so
the rules hold when the two actions arrive from two systems under two logins
of the same person. A refusal names the person, both logins and the rule.
"""

from __future__ import annotations

from typing import Any

from tieline.workflows._errors import DutiesNotSegregated, NotAnApprover
from tieline.workflows._identity import Actor, ActorKind
from tieline.workflows._machine import Machine

REQUESTER_APPROVES = "requester cannot approve"
APPROVER_RELEASES = "approver cannot release payment"
SERVICE_DECIDES = "a service identity can never approve"


def party(actor: Actor) -> dict[str, str]:
    """How a workflow remembers who did something: identity and login used."""
    return {"person": actor.id, "via": _via(actor)}


def check_decider(machine: Machine[Any], actor: Actor) -> None:
    """Refuse `actor` deciding the machine's current step, with the rule broken."""
    document = machine.instance.document_ref
    _check_person(actor, document)
    requester = machine.data.get("requested_by")
    if requester and requester["person"] == actor.id:
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
