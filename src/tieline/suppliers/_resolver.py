"""The supplier resolver importers call, inside their store transaction.

`SupplierResolver(tx, system=..., actor=...).resolve(name, tax_id=...)`
returns the canonical supplier a spelling stands for, by the rules of
`_matching`:

- a CERTAIN match returns the known supplier, adding the spelling to its
  aliases (and the tax id, when it had none) if they are new to it;
- otherwise a new supplier is saved, with `Origin(system, <normalised name>)`
  so that the same first spelling always makes the same canonical id, and
  every NEAR match is put up for review (unless that pair was asked before).

Saving goes through `Transaction.save`, so each created or changed supplier
writes its outbox event in the same transaction, and a resolution that
changes nothing writes nothing. Resolving the same names again, in the same
order or not, finds what the first run made: no record, event or review is
added. The resolver reads every supplier when it is made and keeps them in
memory for the transaction; make one per transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from tieline.errors import ValidationFailed
from tieline.logging import get_logger
from tieline.model import Origin, Supplier, SupplierStatus, record_id
from tieline.store import Transaction
from tieline.suppliers._errors import NotASupplier
from tieline.suppliers._matching import (
    NEAR_SCORE,
    Match,
    MatchRule,
    SupplierIndex,
    SupplierView,
    choose,
    compare,
)
from tieline.suppliers._names import ParsedName, parse_name
from tieline.suppliers._placeholders import not_a_supplier_reason
from tieline.suppliers._reviews import (
    Decision,
    ReviewItem,
    SupplierReviews,
    pair_key,
    replaced,
)
from tieline.suppliers._tax import normalise_tax_id

log = get_logger(__name__)

# records.source_key holds 200 characters; longer names are cut and hashed.
_ORIGIN_KEY_LIMIT: Final[int] = 190


@dataclass(frozen=True, slots=True)
class Resolution:
    """What `resolve` did: the canonical supplier, and how it was reached.

    `rule` is the CERTAIN rule that matched, None when the supplier was
    created; `reviews` are the near matches this call put up for a person.
    """

    supplier: Supplier
    created: bool
    updated: bool
    rule: MatchRule | None
    reviews: tuple[ReviewItem, ...] = ()


class SupplierResolver:
    """Turns supplier spellings into canonical suppliers within one transaction."""

    def __init__(self, tx: Transaction, *, system: str, actor: str) -> None:
        self.tx = tx
        self.system = system
        self.actor = actor
        self.reviews = SupplierReviews(tx)
        self._load()

    def resolve(
        self, name: str, *, tax_id: str | None = None, country: str | None = None
    ) -> Resolution:
        """The canonical supplier `name` (with `tax_id`) stands for.

        Raises NotASupplier for placeholders and the engineer's estimate, and
        ValidationFailed for a tax id or country that cannot be read.
        """
        reason = not_a_supplier_reason(name)
        if reason is not None:
            raise NotASupplier(name, reason)
        parsed = parse_name(name)
        tax = _tax_id(tax_id, country, name)
        remembered = self._resolved.get((parsed.written, tax))
        if remembered is not None:
            supplier_id, rule = remembered
            return Resolution(self._records[supplier_id], False, False, rule)

        candidates = self._index.candidates(parsed, tax)
        matches = [m for view in candidates if (m := compare(parsed, tax, view))]
        certain, near = choose(matches)
        if certain is not None:
            resolution = self._found(certain, parsed, tax)
        else:
            resolution = self._create(parsed, tax, near)
        # A spelling seen again in this transaction lands where it did the
        # first time (a created supplier is then found by `same-name`).
        self._resolved[(parsed.written, tax)] = (
            resolution.supplier.id,
            resolution.rule or MatchRule.SAME_NAME,
        )
        return resolution

    def decide(
        self,
        item: ReviewItem | int,
        *,
        decision: Decision | str,
        by: str,
        note: str | None = None,
    ) -> ReviewItem:
        """Record a person's answer on a near match (see SupplierReviews.decide)."""
        decided = self.reviews.decide(item, decision=decision, by=by, note=note)
        self._load()
        return decided

    def _load(self) -> None:
        suppliers = self.tx.list(Supplier)
        self._records: dict[str, Supplier] = {s.id: s for s in suppliers}
        self._ranks: dict[str, int] = {s.id: i for i, s in enumerate(suppliers)}
        self._absorbed: dict[str, list[Supplier]] = {}
        for supplier in suppliers:
            if supplier.status is SupplierStatus.MERGED:
                self._absorbed.setdefault(self._final_id(supplier), []).append(supplier)
        self._index = SupplierIndex()
        for supplier in suppliers:
            if supplier.status is not SupplierStatus.MERGED:
                self._refresh_view(supplier)
        self._asked: set[str] = self.reviews.keys()
        self._resolved: dict[tuple[str, str | None], tuple[str, MatchRule]] = {}

    def _refresh_view(self, supplier: Supplier) -> None:
        # A supplier's view also holds the spellings and tax ids of the
        # suppliers merged into it, so that they keep finding it.
        # A supplier saved by other code may carry its legal name only, or a
        # tax id as written; both still count.
        family = [supplier, *self._absorbed.get(supplier.id, [])]
        spellings = dict.fromkeys(
            name for s in family for name in (s.legal_name, *s.aliases)
        )
        tax_ids = {_stored_tax_id(s.tax_id) for s in family if s.tax_id}
        view = SupplierView(
            supplier_id=supplier.id,
            rank=self._ranks[supplier.id],
            names=tuple(parse_name(spelling) for spelling in spellings),
            tax_ids=frozenset(tax_ids),
        )
        self._index.put(view)

    def _final_id(self, supplier: Supplier) -> str:
        while supplier.merged_into is not None:
            supplier = self._records[supplier.merged_into]
        return supplier.id

    def _found(self, match: Match, parsed: ParsedName, tax: str | None) -> Resolution:
        supplier = self._records[match.view.supplier_id]
        changes: dict[str, Any] = {}
        if parsed.written not in supplier.aliases:
            changes["aliases"] = [*supplier.aliases, parsed.written]
        if tax is not None and supplier.tax_id is None:
            changes["tax_id"] = tax
        if not changes:
            log.debug(
                "supplier.matched", supplier_id=supplier.id, rule=match.rule.value
            )
            return Resolution(supplier, False, False, match.rule)

        saved = self._save(replaced(supplier, **changes))
        log.info(
            "supplier.alias_added",
            supplier_id=saved.id,
            rule=match.rule.value,
            changed=sorted(changes),
        )
        return Resolution(saved, False, True, match.rule)

    def _create(
        self, parsed: ParsedName, tax: str | None, near: list[Match]
    ) -> Resolution:
        supplier = Supplier(
            origin=Origin(system=self.system, key=self._origin_key(parsed)),
            legal_name=parsed.written,
            aliases=[parsed.written],
            tax_id=tax,
        )
        self._ranks[supplier.id] = len(self._ranks)
        saved = self._save(supplier)
        log.info("supplier.created", supplier_id=saved.id, near_matches=len(near))
        asked = (self._ask(saved, parsed, match) for match in near)
        return Resolution(saved, True, False, None, tuple(i for i in asked if i))

    def _save(self, supplier: Supplier) -> Supplier:
        # TODO: two transactions that meet the same new spelling at once both
        # insert its supplier; the second fails on the origin's unique key with
        # a database error rather than StoreBusy, so its import fails instead
        # of retrying. Imports run one at a time today.
        stored = self.tx.save(supplier, actor=self.actor).record
        assert isinstance(stored, Supplier)  # save returns what it was given
        self._records[stored.id] = stored
        self._refresh_view(stored)
        return stored

    def _origin_key(self, parsed: ParsedName) -> str:
        base = parsed.normalised
        if len(base) > _ORIGIN_KEY_LIMIT:
            digest = hashlib.sha256(base.encode()).hexdigest()[:16]
            base = f"{base[: _ORIGIN_KEY_LIMIT - 30]} {digest}"
        # A first spelling already taken as a key (by a supplier kept apart
        # for its tax id, or merged away) gets the next free number.
        key, number = base, 2
        while record_id(Supplier.kind, self.system, key) in self._records:
            key, number = f"{base} #{number}", number + 1
        return key

    def _ask(
        self, new: Supplier, parsed: ParsedName, match: Match
    ) -> ReviewItem | None:
        existing = self._records[match.view.supplier_id]
        key = pair_key(
            _side(parsed.normalised, new.tax_id),
            _side(match.alias.normalised, existing.tax_id),
        )
        if key in self._asked:
            return None
        self._asked.add(key)
        evidence = {
            "rule": match.rule.value,
            "score": match.score,
            "near_score": NEAR_SCORE,
            "existing": _evidence(existing, match.alias),
            "new": _evidence(new, parsed),
        }
        return self.reviews.record(
            key, subject=new.subject, score=match.score, evidence=evidence
        )


def _tax_id(tax_id: str | None, country: str | None, name: str) -> str | None:
    if tax_id is None or not tax_id.strip():
        return None
    try:
        return normalise_tax_id(tax_id, country=country)
    except ValidationFailed as err:
        raise ValidationFailed(err.reason, record=name, field=err.field) from err


def _stored_tax_id(tax_id: str) -> str:
    try:
        return normalise_tax_id(tax_id)
    except ValidationFailed:
        return tax_id


def _side(normalised: str, tax_id: str | None) -> str:
    return normalised if tax_id is None else f"{normalised} [{tax_id}]"


def _evidence(supplier: Supplier, name: ParsedName) -> dict[str, Any]:
    return {
        "supplier_id": supplier.id,
        "name": name.written,
        "normalised": name.normalised,
        "core": name.core,
        "legal_form": name.legal_form,
        "misspelt_legal_form": name.misspelt_form,
        "tax_id": supplier.tax_id,
    }
