"""The binder: canonical id <-> (Odoo instance, model, id), in the store.

Bindings are written in the caller's store transaction, so a binding exists
exactly when the canonical change that needed it was committed. What Odoo
created before a crash is found again by `Adapter.ensure` (external id,
then natural key), never created twice.

`bind` is idempotent: binding a canonical id to the Odoo record it is bound
to already changes nothing (but records an external id it did not have), and
a binding whose Odoo record was found gone (`mark_deleted`) makes way for
the new one. Binding either side to a third party is refused with
`BindingMismatch`, naming both, because it means two canonical records stand
for one Odoo record (or the reverse) and a person must say which is right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from tieline.connectors.odoo._schema import odoo_bindings, odoo_watermarks
from tieline.errors import PermanentError


class BindingMismatch(PermanentError):
    """A canonical record or an Odoo record is bound already, to another one."""

    def __init__(
        self,
        message: str,
        *,
        instance: str,
        model: str,
        canonical_id: str,
        odoo_id: int,
    ) -> None:
        super().__init__(message)
        self.instance = instance
        self.odoo_model = model
        self.canonical_id = canonical_id
        self.odoo_id = odoo_id


@dataclass(frozen=True, slots=True)
class _Bound:
    """One binding row as `bind` weighs it."""

    row_id: int
    odoo_id: int
    canonical_kind: str
    canonical_id: str
    alive: bool
    external_id: str | None


class Binder:
    """Reads and writes the bindings of one Odoo instance."""

    def __init__(self, connection: Connection, instance: str) -> None:
        self.connection = connection
        self.instance = instance

    def odoo_id(self, model: str, canonical_id: str) -> int | None:
        """The Odoo id bound to `canonical_id` in `model`, if any (and alive)."""
        row = self.connection.execute(
            select(odoo_bindings.c.odoo_id).where(
                odoo_bindings.c.instance == self.instance,
                odoo_bindings.c.model == model,
                odoo_bindings.c.canonical_id == canonical_id,
                odoo_bindings.c.deleted_at.is_(None),
            )
        ).first()
        return None if row is None else int(row.odoo_id)

    def external_id(self, model: str, canonical_id: str) -> str | None:
        """The external id the binding of `canonical_id` records, if any."""
        row = self.connection.execute(
            select(odoo_bindings.c.external_id).where(
                odoo_bindings.c.instance == self.instance,
                odoo_bindings.c.model == model,
                odoo_bindings.c.canonical_id == canonical_id,
            )
        ).first()
        return None if row is None or row.external_id is None else str(row.external_id)

    def canonical_id(self, model: str, odoo_id: int) -> str | None:
        """The canonical id bound to an Odoo record, if any."""
        row = self.connection.execute(
            select(odoo_bindings.c.canonical_id).where(
                odoo_bindings.c.instance == self.instance,
                odoo_bindings.c.model == model,
                odoo_bindings.c.odoo_id == odoo_id,
            )
        ).first()
        return None if row is None else str(row.canonical_id)

    def bind(
        self,
        model: str,
        canonical_id: str,
        odoo_id: int,
        *,
        kind: str,
        external_id: str | None,
    ) -> None:
        """Record that `canonical_id` is Odoo's `model` record `odoo_id`.

        A no-op when it is so already; `BindingMismatch` when either side is
        bound, alive, to another record.
        """
        by_canonical = self._row(model, odoo_bindings.c.canonical_id == canonical_id)
        by_odoo = self._row(model, odoo_bindings.c.odoo_id == odoo_id)
        if by_canonical is not None and by_canonical.odoo_id == odoo_id:
            if not by_canonical.alive:
                self._revive(by_canonical.row_id)
            if external_id is not None and by_canonical.external_id != external_id:
                self.connection.execute(
                    update(odoo_bindings)
                    .where(odoo_bindings.c.id == by_canonical.row_id)
                    .values(external_id=external_id)
                )
            return
        self._refuse_mismatch(model, kind, canonical_id, odoo_id, by_canonical, by_odoo)
        # What is left of either side is a binding to a record found gone.
        for stale in (by_canonical, by_odoo):
            if stale is not None:
                self.connection.execute(
                    delete(odoo_bindings).where(odoo_bindings.c.id == stale.row_id)
                )
        self.connection.execute(
            insert(odoo_bindings).values(
                instance=self.instance,
                model=model,
                odoo_id=odoo_id,
                canonical_kind=kind,
                canonical_id=canonical_id,
                external_id=external_id,
                created_at=datetime.now(UTC),
            )
        )

    def _row(self, model: str, which: Any) -> _Bound | None:
        row = self.connection.execute(
            select(
                odoo_bindings.c.id,
                odoo_bindings.c.odoo_id,
                odoo_bindings.c.canonical_kind,
                odoo_bindings.c.canonical_id,
                odoo_bindings.c.deleted_at,
                odoo_bindings.c.external_id,
            ).where(
                odoo_bindings.c.instance == self.instance,
                odoo_bindings.c.model == model,
                which,
            )
        ).first()
        if row is None:
            return None
        return _Bound(
            int(row.id),
            int(row.odoo_id),
            str(row.canonical_kind),
            str(row.canonical_id),
            alive=row.deleted_at is None,
            external_id=row.external_id,
        )

    def _revive(self, row_id: int) -> None:
        self.connection.execute(
            update(odoo_bindings)
            .where(odoo_bindings.c.id == row_id)
            .values(deleted_at=None)
        )

    def _refuse_mismatch(
        self,
        model: str,
        kind: str,
        canonical_id: str,
        odoo_id: int,
        by_canonical: _Bound | None,
        by_odoo: _Bound | None,
    ) -> None:
        where = f"on Odoo {self.instance}"
        if by_odoo is not None and by_odoo.alive:
            message = (
                f"{model} {odoo_id} {where} is bound to {by_odoo.canonical_kind} "
                f"{by_odoo.canonical_id} already, so it cannot stand for {kind} "
                f"{canonical_id} as well: one of the two canonical records "
                "duplicates the other; merge them, then replay"
            )
        elif by_canonical is not None and by_canonical.alive:
            message = (
                f"{by_canonical.canonical_kind} {canonical_id} is bound to {model} "
                f"{by_canonical.odoo_id} {where} already, not to {odoo_id}: "
                "one of the two Odoo records duplicates the other; merge or "
                "archive one in Odoo, then replay"
            )
        else:
            return
        raise BindingMismatch(
            message,
            instance=self.instance,
            model=model,
            canonical_id=canonical_id,
            odoo_id=odoo_id,
        )

    def bound(self, model: str) -> dict[int, str]:
        """Every live binding of `model`: Odoo id -> canonical id."""
        rows = self.connection.execute(
            select(odoo_bindings.c.odoo_id, odoo_bindings.c.canonical_id).where(
                odoo_bindings.c.instance == self.instance,
                odoo_bindings.c.model == model,
                odoo_bindings.c.deleted_at.is_(None),
            )
        )
        return {int(r.odoo_id): str(r.canonical_id) for r in rows}

    def mark_deleted(self, model: str, odoo_id: int) -> None:
        """Remember that the Odoo record is gone (found by reconciling ids)."""
        self.connection.execute(
            update(odoo_bindings)
            .where(
                odoo_bindings.c.instance == self.instance,
                odoo_bindings.c.model == model,
                odoo_bindings.c.odoo_id == odoo_id,
            )
            .values(deleted_at=datetime.now(UTC))
        )

    def watermark(self, model: str) -> tuple[str | None, dict[str, Any]]:
        """The last write_date pulled for `model`, and the ids seen at it."""
        row = self.connection.execute(
            select(odoo_watermarks.c.write_date, odoo_watermarks.c.seen_at_mark).where(
                odoo_watermarks.c.instance == self.instance,
                odoo_watermarks.c.model == model,
            )
        ).first()
        return (
            (None, {}) if row is None else (str(row.write_date), dict(row.seen_at_mark))
        )

    def set_watermark(self, model: str, write_date: str, seen: dict[str, Any]) -> None:
        """Move the watermark of `model` (insert or update)."""
        values = {
            "write_date": write_date,
            "seen_at_mark": seen,
            "updated_at": datetime.now(UTC),
        }
        done = self.connection.execute(
            update(odoo_watermarks)
            .where(
                odoo_watermarks.c.instance == self.instance,
                odoo_watermarks.c.model == model,
            )
            .values(**values)
        )
        if done.rowcount == 0:
            self.connection.execute(
                insert(odoo_watermarks).values(
                    instance=self.instance, model=model, **values
                )
            )
