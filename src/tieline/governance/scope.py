"""Where a record belongs, for authorization: its legal entity and supplier.

Records that name their legal entity carry it; the others inherit it from
their parent (a claim from its commitment, a budget from its project). A
parent that is missing leaves the scope unresolved, which only grants on
every legal entity reach. The records a partner may see are those whose
supplier is the partner's: commitments and payments name it, change orders,
receipts and claims inherit it from their commitment, an invoice names it
and, when it also names a commitment, must agree with it. Of commitments,
a partner sees only those issued to it (approved or closed), and nothing
hanging on one that is not: a draft order is the group's business.
"""

from __future__ import annotations

from typing import Any

from tieline.errors import ValidationFailed
from tieline.governance.roles import RecordScope
from tieline.model import (
    CanonicalRecord,
    Commitment,
    Project,
)
from tieline.store import Transaction

UNRESOLVED = RecordScope(None, resolved=False)
# Commitment statuses that mean the supplier has the contract.
ISSUED = frozenset({"approved", "closed"})


class ScopeResolver:
    """Resolves record scopes in one transaction, caching the parents it reads."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self._projects: dict[str, Project | None] = {}
        self._commitments: dict[str, Commitment | None] = {}

    def project(self, project_id: str) -> Project | None:
        """The project, read once per resolver."""
        if project_id not in self._projects:
            self._projects[project_id] = self.tx.get(Project, project_id)
        return self._projects[project_id]

    def commitment(self, commitment_id: str) -> Commitment | None:
        """The commitment, read once per resolver."""
        if commitment_id not in self._commitments:
            self._commitments[commitment_id] = self.tx.get(Commitment, commitment_id)
        return self._commitments[commitment_id]

    def of(self, record: CanonicalRecord) -> RecordScope:
        """The scope of `record`."""
        data: Any = record
        kind = record.kind
        if kind == "legal_entity":
            return RecordScope(record.id)
        if kind == "commitment":
            return RecordScope(
                data.legal_entity_id, data.supplier_id, issued=_issued(data)
            )
        if kind in ("project", "payment"):
            return RecordScope(data.legal_entity_id, getattr(data, "supplier_id", None))
        if kind == "supplier":
            return RecordScope(None, supplier_id=record.id)
        if kind == "cost_code_crosswalk":
            return RecordScope(None)
        if kind in ("cost_code", "budget", "budget_revision"):
            return self._via_project(data.project_id)
        if kind in ("change_order", "goods_receipt", "progress_claim"):
            return self._via_commitment(data.commitment_id)
        if kind == "supplier_invoice":
            return self._invoice(data)
        return UNRESOLVED

    def _via_project(self, project_id: str | None) -> RecordScope:
        if project_id is None:
            return RecordScope(None)
        project = self.project(project_id)
        return UNRESOLVED if project is None else RecordScope(project.legal_entity_id)

    def _via_commitment(self, commitment_id: str) -> RecordScope:
        commitment = self.commitment(commitment_id)
        if commitment is None:
            return UNRESOLVED
        return RecordScope(
            commitment.legal_entity_id,
            commitment.supplier_id,
            issued=_issued(commitment),
        )

    def _invoice(self, invoice: Any) -> RecordScope:
        entity: str | None = invoice.legal_entity_id
        supplier: str | None = invoice.supplier_id
        issued = True
        if invoice.commitment_id is not None:
            commitment = self.commitment(invoice.commitment_id)
            if commitment is None:
                return RecordScope(entity, None, resolved=entity is not None)
            entity = entity or commitment.legal_entity_id
            issued = _issued(commitment)
            if supplier != commitment.supplier_id:
                supplier = None  # A mismatch reaches no partner at all.
        if entity is None and invoice.project_id is not None:
            project = self.project(invoice.project_id)
            entity = project.legal_entity_id if project is not None else None
        return RecordScope(entity, supplier, resolved=entity is not None, issued=issued)


def _issued(commitment: Any) -> bool:
    """Whether the commitment went to its supplier: approved, or since closed.

    A draft is the group's own, and a cancelled one cannot be told apart
    from a draft that was withdrawn, so neither is shown to the partner.
    """
    return bool(commitment.status.value in ISSUED)


def partner_origin(identity_name: str) -> str:
    """The origin system a partner's submissions must carry."""
    return f"partner:{identity_name}"


def check_partner_submission(identity_name: str, record: CanonicalRecord) -> None:
    """Refuse what a partner may not put in a claim or invoice it submits.

    A partner submits; it does not certify, approve or pay. Its records live
    under its own origin system, so their ids cannot collide with anyone
    else's (ids derive from the origin).
    """
    data: Any = record
    if record.origin.system != partner_origin(identity_name):
        raise ValidationFailed(
            f"a partner's records use origin system {partner_origin(identity_name)!r}",
            field="origin.system",
        )
    if record.kind == "progress_claim":
        if data.status.value not in ("draft", "submitted"):
            raise ValidationFailed(
                "a partner submits a claim as draft or submitted", field="status"
            )
        for index, line in enumerate(data.lines):
            if line.certified_to_date is not None:
                raise ValidationFailed(
                    "certification is not the partner's to give",
                    field=f"lines[{index}].certified_to_date",
                )
    if record.kind == "supplier_invoice" and (
        data.status.value != "received" or data.status_reason is not None
    ):
        raise ValidationFailed(
            "a partner submits an invoice as received", field="status"
        )
