"""Idempotent writes to Odoo: find what an earlier attempt made before creating.

`ensure` looks, in order, for the binding, for the external id
`tieline.<kind>_<canonical id>` in `ir.model.data`, and for a natural key
(a supplier's tax id, an order's source document and vendor, a bill's vendor
reference). Only when all three find nothing does it create the record, and
it stamps the external id right after, in the same step. So a retry after a
lost answer, or after a crash before the binding was committed, finds the
first attempt's record instead of making a second one.

A create whose answer never came may also still be running in Odoo, where
no search can see it yet: each create is noted first in the in-doubt ledger
(`_in_doubt`), and while a noted create is neither found nor past the
in-doubt window, `ensure` raises `OdooCreateInDoubt` instead of creating
again. Whatever `ensure` finds or makes is bound and carries its external id,
and its note is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo._client import OdooClient
from tieline.connectors.odoo._errors import (
    OdooCreateInDoubt,
    OdooFault,
    OdooRecordMissing,
)
from tieline.connectors.odoo._in_doubt import DEFAULT_WINDOW, InDoubtLedger
from tieline.errors import ValidationFailed
from tieline.logging import get_logger

log = get_logger(__name__)

MODULE = "tieline"  # the ir.model.data module of tieline's external ids


def external_name(kind: str, canonical_id: str) -> str:
    """The external id's name part for a canonical record."""
    return f"{kind}_{canonical_id}".replace("-", "_").replace("#", "__")


@dataclass(frozen=True, slots=True)
class Ensured:
    """The Odoo record found or made, and whether this call created it."""

    odoo_id: int
    created: bool


class Adapter:
    """Makes Odoo calls for the synchronizer, with idempotent creates."""

    def __init__(
        self,
        client: OdooClient,
        binder: Binder,
        *,
        ledger: InDoubtLedger | None = None,
        in_doubt_window: float = DEFAULT_WINDOW,
    ) -> None:
        self.client = client
        self.binder = binder
        self.ledger = ledger or InDoubtLedger.beside(binder.connection, binder.instance)
        self.in_doubt_window = in_doubt_window

    def ensure(
        self,
        *,
        kind: str,
        model: str,
        canonical_id: str,
        values: dict[str, Any],
        natural_key: list[Any] | None,
        context: dict[str, Any] | None = None,
    ) -> Ensured:
        """The Odoo record for `canonical_id`, created only if none exists yet.

        Raises `OdooCreateInDoubt` (retryable) while an earlier create of it
        got no answer, is not visible in Odoo, and may still commit there.
        """
        name = external_name(kind, canonical_id)
        sent_at = self.ledger.sent_at(model, canonical_id)
        found = self._find(model, canonical_id, name, natural_key)
        if found is not None:
            self._adopt(model, canonical_id, found, kind, name)
            if sent_at is not None:
                self.ledger.clear(model, canonical_id)
                log.info(
                    "odoo.create.resolved",
                    model=model,
                    odoo_id=found,
                    canonical_id=canonical_id,
                )
            return Ensured(found, created=False)
        if sent_at is not None:
            self._refuse_while_in_doubt(model, canonical_id, sent_at)
        odoo_id = self._create(model, canonical_id, name, values, context)
        self.stamp(model, odoo_id, name)
        self.binder.bind(
            model, canonical_id, odoo_id, kind=kind, external_id=f"{MODULE}.{name}"
        )
        # The record carries its external id now: a retry finds it by that,
        # even if this push's transaction rolls back.
        self.ledger.clear(model, canonical_id)
        log.info(
            "odoo.record.created",
            model=model,
            odoo_id=odoo_id,
            canonical_id=canonical_id,
        )
        return Ensured(odoo_id, created=True)

    def _adopt(
        self, model: str, canonical_id: str, odoo_id: int, kind: str, name: str
    ) -> None:
        """Bind a record found again (`_find` saw to its external id)."""
        self.binder.bind(
            model, canonical_id, odoo_id, kind=kind, external_id=f"{MODULE}.{name}"
        )

    def _refuse_while_in_doubt(
        self, model: str, canonical_id: str, sent_at: datetime
    ) -> None:
        waited = (datetime.now(UTC) - sent_at).total_seconds()
        left = self.in_doubt_window - waited
        if left <= 0:
            # Odoo would have finished or killed the first create by now, and
            # it is not there: it never ran, or rolled back.
            log.info(
                "odoo.create.abandoned",
                model=model,
                canonical_id=canonical_id,
                waited=round(waited, 1),
            )
            return
        error = OdooCreateInDoubt(
            f"{model} for {canonical_id}: a create sent {waited:.0f}s ago got no "
            "answer and its record is not in Odoo yet; it may still commit there, "
            f"so nothing is created again for {left:.0f}s",
            retry_after=left,
        )
        error.locate(model=model, method="create", name=None, message=str(error))
        log.info(
            "odoo.create.in_doubt",
            model=model,
            canonical_id=canonical_id,
            retry_in=round(left, 1),
        )
        raise error

    def _create(
        self,
        model: str,
        canonical_id: str,
        name: str,
        values: dict[str, Any],
        context: dict[str, Any] | None,
    ) -> int:
        """Note the create (committed), then send it."""
        self.ledger.note(model, canonical_id, f"{MODULE}.{name}")
        kwargs = {"context": context} if context else {}
        try:
            return self.client.create(model, values, **kwargs)
        except Exception as err:
            if isinstance(err, OdooFault) and not err.in_doubt:
                # Odoo answered (a refusal, a rollback) or was never reached:
                # nothing was created. Anything else stays in doubt.
                self.ledger.clear(model, canonical_id)
            raise

    def _find(
        self, model: str, canonical_id: str, name: str, natural_key: list[Any] | None
    ) -> int | None:
        bound = self.binder.odoo_id(model, canonical_id)
        if bound is not None:
            if self.exists(model, bound):
                # Bound by a pull (matched by tax id) or before external ids
                # were stamped: give it tieline's external id now.
                if self.binder.external_id(model, canonical_id) is None:
                    self.stamp(model, bound, name)
                return bound
            # Deleted in Odoo since: whatever is found or made next replaces it.
            self.binder.mark_deleted(model, bound)
        stamped = self.by_external_id(model, name)
        if stamped is not None:
            return stamped
        if natural_key is None:
            return None
        found = self.client.search(model, natural_key, context={"active_test": False})
        # A record already bound to another canonical record is never adopted:
        # two project-scoped cost codes with one code (the Port of Portland
        # estate repeats WBS codes across projects) are two analytic accounts.
        matches = [
            m
            for m in found
            if self.binder.canonical_id(model, m) in (None, canonical_id)
        ]
        if len(matches) > 1:
            raise ValidationFailed(
                f"{len(matches)} {model} records match {natural_key}; link one by hand",
                record=canonical_id,
            )
        if matches:
            self.stamp(model, matches[0], name)
            return int(matches[0])
        return None

    def exists(self, model: str, odoo_id: int) -> bool:
        """Whether the record is still there (archived counts)."""
        rows = self.client.search(
            model, [("id", "=", odoo_id)], context={"active_test": False}
        )
        return bool(rows)

    def by_external_id(self, model: str, name: str) -> int | None:
        """The record behind `tieline.<name>`, if it was stamped and still exists."""
        rows = self.client.search_read(
            "ir.model.data",
            [("module", "=", MODULE), ("name", "=", name), ("model", "=", model)],
            ["res_id"],
        )
        if not rows:
            return None
        res_id = int(rows[0]["res_id"])
        return res_id if self.exists(model, res_id) else None

    def stamp(self, model: str, odoo_id: int, name: str) -> None:
        """Give the record the external id `tieline.<name>` (moving a stale one).

        TODO: the `ir.model.data` create here is not noted as in doubt; if its
        answer is lost while Odoo still runs it, the retry's second create
        meets Odoo's unique (module, name) index and is refused as a
        validation error, so the push becomes a dead letter to replay (which
        then finds the stamp) instead of retrying by itself.
        """
        rows = self.client.search(
            "ir.model.data", [("module", "=", MODULE), ("name", "=", name)]
        )
        if rows:
            self.client.write(
                "ir.model.data", rows, {"model": model, "res_id": odoo_id}
            )
            return
        self.client.create(
            "ir.model.data",
            {
                "module": MODULE,
                "name": name,
                "model": model,
                "res_id": odoo_id,
                "noupdate": True,
            },
        )

    def read_one(self, model: str, odoo_id: int, fields: list[str]) -> dict[str, Any]:
        """One record, or OdooRecordMissing."""
        rows = self.client.read(model, [odoo_id], fields)
        if not rows:
            missing = OdooRecordMissing(f"{model} {odoo_id} does not exist")
            missing.locate(model=model, method="read", name=None, message=str(missing))
            raise missing
        return rows[0]
