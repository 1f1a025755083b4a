"""Project closeout: a checklist that says what keeps a project open.

A project closes only when none of these is left, and the refusal names each:

- a commitment still open (approved, not closed or cancelled);
- a receipt not invoiced (a commitment line received for more than is billed);
- a progress claim not certified (submitted, waiting);
- retention not released (held on a subcontract's latest certificate).

A person of the `project_closeout` rule closes it (`tieline closeout`,
`POST /v1/projects/{id}/closeout`); the project's status becomes `closed`
and the closeout workflow records who. `closeout_checklist` gives the same
checks without closing (`tieline closeout --check`, `GET .../closeout`); a
plain update of a project to `closed` through the API runs them too and is
refused while anything blocks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from tieline.errors import RecordNotFound
from tieline.model import (
    ClaimStatus,
    Commitment,
    CommitmentStatus,
    ProgressClaim,
    Project,
    ProjectStatus,
)
from tieline.store import Transaction
from tieline.workflows._duties import check_authorised
from tieline.workflows._identity import Actor
from tieline.workflows._machine import Hub, Machine, Spec
from tieline.workflows._policy import DocumentType
from tieline.workflows.invoices import latest_certificate

_ZERO = Decimal(0)


class CloseoutState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseoutFlow(Machine[CloseoutState]):
    """A project's closeout: open until its checklist is clear."""

    spec = Spec(
        name="closeout",
        document_kind="project",
        initial=CloseoutState.OPEN,
        moves={CloseoutState.OPEN: frozenset({CloseoutState.CLOSED})},
    )

    def closed(self, actor: Actor, comment: str | None) -> None:
        """A person closed the project with nothing blocking it."""
        self._move(CloseoutState.CLOSED, actor, comment=comment)


class Check(enum.StrEnum):
    """The checklist's items, in the order they are shown."""

    COMMITMENTS_CLOSED = "commitments_closed"
    RECEIPTS_INVOICED = "receipts_invoiced"
    CLAIMS_CERTIFIED = "claims_certified"
    RETENTION_RELEASED = "retention_released"


@dataclass(frozen=True, slots=True)
class Blocker:
    """One thing that keeps a project open: which check, which document, why."""

    check: Check
    document: str
    detail: str


def closeout_checklist(tx: Transaction, project_id: str) -> list[Blocker]:
    """Everything that keeps the project from closing ([]: it may close)."""
    from tieline.reports import accruals_by_line

    commitments = tx.list(Commitment, project_id=project_id)
    found = [
        Blocker(
            Check.COMMITMENTS_CLOSED,
            c.number,
            f"commitment {c.number} is still {c.status.value}",
        )
        for c in commitments
        if c.status not in (CommitmentStatus.CLOSED, CommitmentStatus.CANCELLED)
    ]
    for (commitment_id, line_key), amount in sorted(
        accruals_by_line(tx, project_id).items()
    ):
        number = _number(tx, commitment_id)
        found.append(
            Blocker(
                Check.RECEIPTS_INVOICED,
                number,
                f"{number} line {line_key}: {amount} received, not invoiced",
            )
        )
    for commitment in commitments:
        found.extend(_claim_blockers(tx, commitment))
    return found


def closeout_blockers(tx: Transaction, project_id: str) -> list[str]:
    """The checklist's blockers in words, in order ([]: none)."""
    return [blocker.detail for blocker in closeout_checklist(tx, project_id)]


def _claim_blockers(tx: Transaction, commitment: Commitment) -> list[Blocker]:
    found = [
        Blocker(
            Check.CLAIMS_CERTIFIED,
            f"{commitment.number} claim {claim.period}",
            f"{commitment.number} claim {claim.period} is not certified",
        )
        for claim in tx.list(ProgressClaim, status=ClaimStatus.SUBMITTED.value)
        if claim.commitment_id == commitment.id
    ]
    latest = latest_certificate(tx, commitment.id)
    held = latest.retention_held() if latest else _ZERO
    if held > _ZERO and commitment.retention_released_on is None:
        found.append(
            Blocker(
                Check.RETENTION_RELEASED,
                commitment.number,
                f"{commitment.number} holds {held} retention, not released",
            )
        )
    return found


def _number(tx: Transaction, commitment_id: str) -> str:
    commitment = tx.get(Commitment, commitment_id)
    return commitment.number if commitment else commitment_id


def find_project(tx: Transaction, reference: str) -> Project:
    """The project whose id or code is `reference`; RecordNotFound otherwise.

    A code two legal entities both use names no single project: give the id.
    """
    project = tx.get(Project, reference)
    if project is not None:
        return project
    found = [p for p in tx.list(Project) if p.code == reference]
    if len(found) != 1:
        raise RecordNotFound("project" if not found else "single project", reference)
    return found[0]


def close_project(
    tx: Transaction, hub: Hub, project_id: str, actor: Actor, comment: str | None
) -> None:
    """Close the project, or refuse with every blocker named."""
    project = find_project(tx, project_id)
    flow, _ = CloseoutFlow.start(
        tx,
        hub,
        document_id=project.id,
        document_ref=project.code,
        actor=actor,
        legal_entity_id=project.legal_entity_id,
        project_id=project.id,
    )
    from tieline.workflows._common import subject

    found = subject(
        tx,
        DocumentType.PROJECT_CLOSEOUT,
        legal_entity_id=project.legal_entity_id,
        project_id=project.id,
        amount=_ZERO,
    )
    rule = hub.policies.rule_for(found)
    allowed = [a.person for a in hub.policies.assignees(rule, hub.clock().date())]
    check_authorised(actor, project.code, allowed)
    blockers = closeout_blockers(tx, project.id)
    if blockers:
        raise flow.refuse(CloseoutState.CLOSED, "; ".join(blockers))
    flow.closed(actor, comment)
    tx.save(project.model_copy(update={"status": ProjectStatus.CLOSED}), actor=actor.id)
