"""Near supplier matches waiting for a person, and the decisions taken on them.

Each near pair is one row of the store's `review_items` table under the topic
`supplier-match`, keyed by the two normalised names (with their tax ids when
they carry one), so the same pair is asked once, whatever its answer. A
decision is final: "same" merges the later supplier into the earlier one
(the earlier keeps every alias; the later is kept with status `merged` and
`merged_into` naming where it went), "different" keeps them apart. Taking the
same decision again changes nothing; taking the other one is refused, since
undoing a merge is not built.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import insert, select, update

from tieline.errors import RecordNotFound, ValidationFailed
from tieline.logging import get_logger
from tieline.model import Supplier, SupplierStatus
from tieline.store import Transaction
from tieline.store._schema import review_items
from tieline.suppliers._errors import ReviewAlreadyDecided

log = get_logger(__name__)

TOPIC: Final[str] = "supplier-match"

# The review_items.item_key column holds 400 characters.
_KEY_LIMIT: Final[int] = 400


class Decision(enum.StrEnum):
    """A person's answer on a near match."""

    SAME = "same"
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One near match as stored: the pair, its score and evidence, its answer."""

    id: int
    item_key: str
    subject: str
    score: float | None
    evidence: dict[str, Any]
    decision: Decision | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime

    @property
    def existing_supplier_id(self) -> str:
        """The supplier that was there first; it carries on after "same"."""
        return str(self.evidence["existing"]["supplier_id"])

    @property
    def new_supplier_id(self) -> str:
        """The supplier made for the near spelling; merged away after "same"."""
        return str(self.evidence["new"]["supplier_id"])


def pair_key(a: str, b: str) -> str:
    """The item key of a pair of sides ("name" or "name [tax id]"), order-free."""
    key = " ~ ".join(sorted((a, b)))
    if len(key) <= _KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: _KEY_LIMIT - 68]}... {digest}"


class SupplierReviews:
    """Reads, records and decides the near supplier matches of one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    def list(self, *, pending_only: bool = True) -> list[ReviewItem]:
        """Near matches in the order they were recorded, undecided ones only
        unless `pending_only` is False."""
        query = select(review_items).where(review_items.c.topic == TOPIC)
        if pending_only:
            query = query.where(review_items.c.decision.is_(None))
        rows = self.tx.connection.execute(query.order_by(review_items.c.id))
        return [_to_item(row._mapping) for row in rows]

    def get(self, item_id: int) -> ReviewItem:
        """The near match with `item_id`; RecordNotFound when there is none."""
        row = self.tx.connection.execute(
            select(review_items).where(
                review_items.c.id == item_id, review_items.c.topic == TOPIC
            )
        ).first()
        if row is None:
            raise RecordNotFound("supplier review item", str(item_id))
        return _to_item(row._mapping)

    def keys(self) -> set[str]:
        """The item keys of every pair ever put up, decided or not."""
        query = select(review_items.c.item_key).where(review_items.c.topic == TOPIC)
        return set(self.tx.connection.execute(query).scalars())

    def record(
        self, item_key: str, *, subject: str, score: float, evidence: dict[str, Any]
    ) -> ReviewItem:
        """Put a near pair up for review, with an event saying so."""
        now = datetime.now(UTC)
        item_id = self.tx.connection.execute(
            insert(review_items)
            .values(
                topic=TOPIC,
                item_key=item_key,
                subject=subject,
                score=score,
                evidence=evidence,
                created_at=now,
            )
            .returning(review_items.c.id)
        ).scalar_one()
        item = self.get(int(item_id))
        self.tx.emit(
            "tieline.supplier.review_requested",
            subject,
            {"review_item_id": item.id, "item_key": item_key, "score": score}
            | {"evidence": evidence},
        )
        log.info("supplier.review_requested", item_id=item.id, item_key=item_key)
        return item

    def decide(
        self,
        item: ReviewItem | int,
        *,
        decision: Decision | str,
        by: str,
        note: str | None = None,
    ) -> ReviewItem:
        """Record a person's answer; "same" merges the two suppliers."""
        current = self.get(item if isinstance(item, int) else item.id)
        answer = _decision(decision, current.id)
        person = by.strip()
        if not person:
            raise ValidationFailed(
                "a decision needs the name of who took it",
                record=f"review item {current.id}",
                field="decided_by",
            )
        if current.decision is not None:
            if current.decision is answer:
                return current
            raise ReviewAlreadyDecided(current.id, current.decision.value)
        if answer is Decision.SAME:
            # TODO: the earlier supplier always carries on; a person cannot yet
            # choose the other one, and must rename it afterwards if it was
            # the better record.
            merge_suppliers(
                self.tx,
                current.existing_supplier_id,
                current.new_supplier_id,
                by=person,
            )
        self._stamp(current.id, answer, by=person, note=note)
        log.info("supplier.review_decided", item_id=current.id, decision=answer.value)
        return self.get(current.id)

    def _stamp(
        self, item_id: int, answer: Decision, *, by: str, note: str | None
    ) -> None:
        self.tx.connection.execute(
            update(review_items)
            .where(review_items.c.id == item_id)
            .values(
                decision=answer.value,
                decided_by=by,
                decided_at=datetime.now(UTC),
                note=note,
            )
        )


def merge_suppliers(tx: Transaction, keep_id: str, absorb_id: str, *, by: str) -> None:
    """Merge supplier `absorb_id` into `keep_id` (each followed to where it went).

    TODO: records that name the merged supplier (commitments, invoices) are
    not re-pointed here; until their next import re-resolves them, a reader
    must follow `merged_into` to see one supplier's whole spend.
    """
    keep = _final(tx, keep_id)
    absorbed = _final(tx, absorb_id)
    if keep.id == absorbed.id:
        return
    aliases = [*keep.aliases, *(a for a in absorbed.aliases if a not in keep.aliases)]
    tx.save(
        replaced(keep, aliases=aliases, tax_id=keep.tax_id or absorbed.tax_id),
        actor=by,
    )
    tx.save(
        replaced(absorbed, status=SupplierStatus.MERGED, merged_into=keep.id),
        actor=by,
    )
    log.info("supplier.merged", supplier_id=absorbed.id, merged_into=keep.id)


def replaced(supplier: Supplier, **changes: Any) -> Supplier:
    """A validated copy of `supplier` with `changes` applied."""
    return Supplier.model_validate(supplier.model_dump() | changes)


def _final(tx: Transaction, supplier_id: str) -> Supplier:
    # Merges only ever go from one unmerged supplier into another, so the
    # chain of merged_into links ends.
    supplier = tx.get(Supplier, supplier_id)
    while supplier is not None and supplier.merged_into is not None:
        supplier = tx.get(Supplier, supplier.merged_into)
    if supplier is None:
        raise RecordNotFound("supplier", supplier_id)
    return supplier


def _decision(value: Decision | str, item_id: int) -> Decision:
    try:
        return Decision(value)
    except ValueError as err:
        raise ValidationFailed(
            f"the decision must be 'same' or 'different', not {value!r}",
            record=f"review item {item_id}",
            field="decision",
        ) from err


def _to_item(row: Any) -> ReviewItem:
    return ReviewItem(
        id=int(row["id"]),
        item_key=row["item_key"],
        subject=row["subject"],
        score=row["score"],
        evidence=row["evidence"],
        decision=None if row["decision"] is None else Decision(row["decision"]),
        decided_by=row["decided_by"],
        decided_at=None if row["decided_at"] is None else _utc(row["decided_at"]),
        note=row["note"],
        created_at=_utc(row["created_at"]),
    )


def _utc(value: datetime) -> datetime:
    # SQLite keeps no zone; tieline writes UTC only.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
