"""Subcontract valuation to payment: claims, certificates, retention.

A subcontractor's progress claim states work done to date per line. A claim
that would take a line past its contract value (the line plus its approved
change orders), or that names a line the subcontract does not have, is
stopped at once and the record rejected. Otherwise it waits for a person of
the `progress_claim` rule (step `claim_certification`), who certifies it.

The certifier may certify less than claimed on any line (`Certification`):
a line's certified to date is at most what was claimed on it and at most its
contract value, exact to the currency's minor unit. It may not fall below
what the latest earlier certificate certified on that line unless the
certifier allows a reduction explicitly (work found defective, say), so a
typing slip cannot hand back money already certified.

A claim need not name every line: a line of the subcontract that the claim
leaves out keeps the work certified to date on it by the latest earlier
certificate (carried forward onto this certificate, claimed and certified as
before, nothing added this period). Leaving a line out never reduces it; a
reduction is certified on a named line.

Certifying fills in the certificate: work previously certified per line and
retention previously held (from the latest earlier certificate), and the
subcontract's retention rate and cap, so the claim's own `retention_held()`
and `amount_due()` give the figures from the certified amounts.

The subcontractor's invoice is then matched against the certified value
(see `invoices`) and paid as any invoice; one that arrived before its
certificate and waits for a person is matched again on certifying.

At completion (every line certified to its full contract value, no claim
waiting), a person of the `retention_release` rule who certified none of its
claims (an approver does not release what they approved) releases the
retention:
the commitment records the date, and the subcontract's workflow says who.

TODO: the released retention is not sent to the ERP as a bill of its own;
until it is, accounts payable must raise the release in Odoo by hand.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from tieline.errors import RecordNotFound
from tieline.model import ClaimLine, ClaimStatus, Commitment, ProgressClaim
from tieline.money import round_money
from tieline.store import Transaction
from tieline.workflows._common import (
    ContractLine,
    commitment_of,
    contract_lines,
    lock_commitment,
    requester,
    route,
    subject,
    writer,
)
from tieline.workflows._duties import (
    APPROVER_RELEASES,
    check_authorised,
    check_decider,
    party,
)
from tieline.workflows._errors import CertificateRefused, DutiesNotSegregated
from tieline.workflows._identity import HUB_LOGINS, Actor, system_actor
from tieline.workflows._machine import Hub, Machine, Spec, find_instance
from tieline.workflows._policy import DocumentType
from tieline.workflows.invoices import latest_certificate, rematch_held


class ClaimState(enum.StrEnum):
    SUBMITTED = "submitted"
    STOPPED = "stopped"
    CERTIFIED = "certified"
    REJECTED = "rejected"


class ClaimFlow(Machine[ClaimState]):
    """A progress claim's life: submitted, then stopped, certified or rejected."""

    spec = Spec(
        name="claim",
        document_kind="progress_claim",
        initial=ClaimState.SUBMITTED,
        moves={
            ClaimState.SUBMITTED: frozenset(
                {ClaimState.STOPPED, ClaimState.CERTIFIED, ClaimState.REJECTED}
            ),
        },
        waits={ClaimState.SUBMITTED: "claim_certification"},
    )

    def stopped(self, actor: Actor, reasons: list[str]) -> None:
        """The claim broke a contract rule; nobody needs to certify it."""
        self.data["stopped_because"] = reasons
        self._move(ClaimState.STOPPED, actor, comment="; ".join(reasons))

    def certified(
        self, actor: Actor, claim: ProgressClaim, comment: str | None
    ) -> None:
        """A person certified the claim; the certificate's figures are kept."""
        self.data["certified_by"] = party(actor)
        self.data["retention_held"] = str(claim.retention_held())
        self.data["amount_due"] = str(claim.amount_due())
        self._move(ClaimState.CERTIFIED, actor, comment=comment)

    def rejected(self, actor: Actor, comment: str | None) -> None:
        """A person rejected the claim."""
        self._move(ClaimState.REJECTED, actor, comment=comment)


class SubcontractState(enum.StrEnum):
    OPEN = "open"
    RETENTION_RELEASED = "retention_released"


class SubcontractFlow(Machine[SubcontractState]):
    """A subcontract's retention: held while open, released at completion."""

    spec = Spec(
        name="subcontract",
        document_kind="commitment",
        initial=SubcontractState.OPEN,
        moves={
            SubcontractState.OPEN: frozenset({SubcontractState.RETENTION_RELEASED}),
        },
    )

    def retention_released(
        self, actor: Actor, amount: Decimal, comment: str | None
    ) -> None:
        """A person released the retention held."""
        self.data["retention_released"] = str(amount)
        self._move(SubcontractState.RETENTION_RELEASED, actor, comment=comment)


def start_claim(tx: Transaction, hub: Hub, claim: ProgressClaim) -> None:
    """Stop a claim past its contract value, or route it for certification."""
    if claim.status is not ClaimStatus.SUBMITTED:
        return
    commitment = commitment_of(tx, claim.commitment_id)
    actor = writer(hub, claim)
    flow, new = ClaimFlow.start(
        tx,
        hub,
        document_id=claim.id,
        document_ref=f"{commitment.number} claim {claim.period}",
        actor=actor,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        data={"requested_by": requester(actor), "commitment_id": commitment.id},
    )
    if not new:
        return
    reasons = over_contract(tx, commitment, claim)
    if reasons:
        # The contract's rule stops it, not whoever sent it.
        check = system_actor(HUB_LOGINS, "contract_value_check")
        flow.stopped(check, reasons)
        tx.save(
            claim.model_copy(update={"status": ClaimStatus.REJECTED}), actor=check.id
        )
        return
    found = subject(
        tx,
        DocumentType.PROGRESS_CLAIM,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        amount=claim.certified_to_date(),
        contract_type=commitment.commitment_type.value,
    )
    rule, assignees = route(flow, hub, found)
    flow.save_data()
    flow.wait(assignees, flow.timer(flow.state, hub.policies.owner(rule)))


def over_contract(
    tx: Transaction, commitment: Commitment, claim: ProgressClaim
) -> list[str]:
    """Why the claim breaks its contract, line by line ([] when it does not)."""
    lines = contract_lines(tx, commitment)
    reasons = []
    for line in claim.lines:
        contract = lines.get(line.commitment_line_key)
        if contract is None:
            reasons.append(
                f"line {line.commitment_line_key} is not in {commitment.number}"
            )
        elif line.claimed_to_date > contract.amount:
            reasons.append(
                f"line {line.commitment_line_key} claims {line.claimed_to_date} to "
                f"date, past its contract value {contract.amount}"
            )
    return reasons


@dataclass(frozen=True, slots=True)
class Certification:
    """What the certifier decided beyond "approved".

    `certified` maps a claimed line's key to the work certified to date on
    it (lines not named are certified as claimed); `allow_reduction` lets a
    line's certified to date fall below what was certified before.
    """

    certified: Mapping[str, Decimal] = field(default_factory=dict)
    allow_reduction: bool = False


def certify_claim(
    tx: Transaction,
    hub: Hub,
    claim_id: str,
    actor: Actor,
    comment: str | None,
    decision: Certification | None = None,
) -> ProgressClaim:
    """A person certifies a claim, at most what was claimed on each line.

    Raises CertificateRefused, naming the line, for a figure the
    certificate cannot hold.
    """
    flow = ClaimFlow.load(tx, hub, claim_id)
    check_decider(flow, actor)
    claim = _claim(tx, claim_id)
    lock_commitment(tx, claim.commitment_id)
    commitment = commitment_of(tx, claim.commitment_id)
    certificate = _certificate(tx, claim, commitment, decision or Certification(), flow)
    tx.save(certificate, actor=actor.id)
    flow.certified(actor, certificate, comment)
    rematch_held(tx, hub, commitment, f"certificate {claim.period}")
    return certificate


def _certificate(
    tx: Transaction,
    claim: ProgressClaim,
    commitment: Commitment,
    decision: Certification,
    flow: ClaimFlow,
) -> ProgressClaim:
    previous = latest_certificate(tx, commitment.id)
    if previous is not None and previous.period >= claim.period:
        raise flow.refuse(
            ClaimState.CERTIFIED, f"period {previous.period} is already certified"
        )
    earlier = previous.lines if previous is not None else []
    before = {line.commitment_line_key: line for line in earlier}
    claimed = {line.commitment_line_key for line in claim.lines}
    for key in decision.certified:
        if key not in claimed:
            raise _refused(flow, key, f"line {key} is not claimed in this claim")
    contract = contract_lines(tx, commitment)
    lines = [
        _certified_line(flow, claim, line, contract, before, decision)
        for line in claim.lines
    ]
    # Lines the claim leaves out keep what was certified on them (see above).
    lines += [_carried(line) for key, line in before.items() if key not in claimed]
    return claim.model_copy(
        update={
            "status": ClaimStatus.CERTIFIED,
            "lines": lines,
            "retention_percent": commitment.retention_percent,
            "retention_cap": commitment.retention_cap,
            "previous_retention_held": previous.retention_held()
            if previous
            else Decimal(0),
        }
    )


def _certified_line(
    flow: ClaimFlow,
    claim: ProgressClaim,
    line: ClaimLine,
    contract: Mapping[str, ContractLine],
    before: Mapping[str, ClaimLine],
    decision: Certification,
) -> ClaimLine:
    """One claimed line as certified, or CertificateRefused naming it."""
    key = line.commitment_line_key
    amount = decision.certified.get(key, line.claimed_to_date)
    previously = _certified_on(before.get(key))
    if amount < 0:
        raise _refused(flow, key, f"line {key}: {amount} certified is negative")
    if amount != round_money(amount, claim.currency):
        raise _refused(
            flow,
            key,
            f"line {key}: {amount} has more decimals than {claim.currency} allows",
        )
    if amount > line.claimed_to_date:
        raise _refused(
            flow,
            key,
            f"line {key}: {amount} certified is more than "
            f"{line.claimed_to_date} claimed",
        )
    value = contract[key].amount if key in contract else Decimal(0)
    if amount > value:
        raise _refused(
            flow,
            key,
            f"line {key}: {amount} certified is past its contract value {value}",
        )
    if amount < previously and not decision.allow_reduction:
        raise _refused(
            flow,
            key,
            f"line {key}: {amount} certified to date is below the {previously} "
            "certified before; certify a reduction only by allowing it explicitly",
        )
    return ClaimLine(
        commitment_line_key=key,
        claimed_to_date=line.claimed_to_date,
        certified_to_date=round_money(amount, claim.currency),
        previously_certified=previously,
    )


def _carried(line: ClaimLine) -> ClaimLine:
    """A line the claim left out, certified to date as it was before."""
    certified = _certified_on(line)
    return ClaimLine(
        commitment_line_key=line.commitment_line_key,
        claimed_to_date=line.claimed_to_date,
        certified_to_date=certified,
        previously_certified=certified,
    )


def _certified_on(line: ClaimLine | None) -> Decimal:
    if line is None or line.certified_to_date is None:
        return Decimal(0)
    return line.certified_to_date


def _refused(flow: ClaimFlow, line_key: str, reason: str) -> CertificateRefused:
    return CertificateRefused(
        flow.spec.name,
        flow.instance.document_ref,
        flow.instance.state,
        line_key,
        reason,
    )


def reject_claim(
    tx: Transaction, hub: Hub, claim_id: str, actor: Actor, comment: str | None
) -> None:
    """A person rejects a claim; nothing is certified."""
    flow = ClaimFlow.load(tx, hub, claim_id)
    check_decider(flow, actor)
    flow.rejected(actor, comment)
    claim = _claim(tx, claim_id)
    tx.save(claim.model_copy(update={"status": ClaimStatus.REJECTED}), actor=actor.id)


def find_commitment(tx: Transaction, reference: str) -> Commitment:
    """The commitment whose id or number is `reference`; RecordNotFound otherwise."""
    commitment = tx.get(Commitment, reference)
    if commitment is not None:
        return commitment
    found = [c for c in tx.list(Commitment) if c.number == reference]
    if len(found) != 1:
        kind = "commitment" if not found else "single commitment"
        raise RecordNotFound(kind, reference)
    return found[0]


def release_retention(
    tx: Transaction, hub: Hub, commitment_id: str, actor: Actor, comment: str | None
) -> Decimal:
    """Release a completed subcontract's retention; returns the amount.

    Refused (TransitionRefused) before completion, when nothing is held, and
    once released; only a person of the `retention_release` rule may.
    """
    commitment = find_commitment(tx, commitment_id)
    lock_commitment(tx, commitment.id)
    flow, _ = SubcontractFlow.start(
        tx,
        hub,
        document_id=commitment.id,
        document_ref=commitment.number,
        actor=actor,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
    )
    latest = latest_certificate(tx, commitment.id)
    held = latest.retention_held() if latest else Decimal(0)
    found = subject(
        tx,
        DocumentType.RETENTION_RELEASE,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        amount=held,
        contract_type=commitment.commitment_type.value,
    )
    rule = hub.policies.rule_for(found)
    allowed = [a.person for a in hub.policies.assignees(rule, hub.clock().date())]
    check_authorised(actor, commitment.number, allowed)
    _check_not_certifier(tx, commitment, actor)
    released_on = commitment.retention_released_on
    if flow.state is SubcontractState.RETENTION_RELEASED or released_on is not None:
        raise flow.refuse(
            SubcontractState.RETENTION_RELEASED,
            f"{commitment.number}'s retention was released already"
            + (f" (on {released_on})" if released_on else ""),
        )
    short = incomplete_lines(tx, commitment, latest)
    if not short and held == 0:
        short = [f"{commitment.number} holds no retention"]
    if short:
        raise flow.refuse(SubcontractState.RETENTION_RELEASED, "; ".join(short))
    flow.retention_released(actor, held, comment)
    released = commitment.model_copy(
        update={"retention_released_on": hub.clock().date()}
    )
    tx.save(released, actor=actor.id)
    return held


def _check_not_certifier(tx: Transaction, commitment: Commitment, actor: Actor) -> None:
    """Refuse a release by whoever certified the work it pays (approver releases)."""
    for claim in tx.list(ProgressClaim):
        if claim.commitment_id != commitment.id:
            continue
        found = find_instance(tx.connection, ClaimFlow.spec.name, claim.id)
        certifier = found.data.get("certified_by") if found is not None else None
        if certifier and certifier["person"] == actor.id:
            raise DutiesNotSegregated(
                APPROVER_RELEASES,
                actor.id,
                commitment.number,
                f"certified claim {claim.period} (as {certifier['via']}) and cannot "
                f"release the retention it holds (as {party(actor)['via']})",
            )


def incomplete_lines(
    tx: Transaction, commitment: Commitment, latest: ProgressClaim | None
) -> list[str]:
    """What keeps a subcontract from completion: uncertified value, open claims."""
    certified = {
        line.commitment_line_key: line.certified_to_date or Decimal(0)
        for line in (latest.lines if latest else [])
    }
    short = [
        f"line {key} is certified {certified.get(key, Decimal(0))} of {line.amount}"
        for key, line in contract_lines(tx, commitment).items()
        if certified.get(key, Decimal(0)) < line.amount
    ]
    waiting = [
        f"claim {claim.period} waits for certification"
        for claim in tx.list(ProgressClaim, status=ClaimStatus.SUBMITTED.value)
        if claim.commitment_id == commitment.id
    ]
    return short + waiting


def _claim(tx: Transaction, claim_id: str) -> ProgressClaim:
    claim = tx.get(ProgressClaim, claim_id)
    if claim is None:
        raise RecordNotFound("progress claim", claim_id)
    return claim
