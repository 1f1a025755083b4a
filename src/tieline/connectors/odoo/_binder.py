"""The binder: canonical id <-> (Odoo instance, model, id), in the store.

Bindings are written in the caller's store transaction, so a binding exists
exactly when the canonical change that needed it was committed. What Odoo
created before a crash is found again by `Adapter.ensure` (external id,
then natural key), never created twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tieline.connectors.odoo._schema import odoo_bindings, odoo_watermarks


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
        """Record that `canonical_id` is Odoo's `model` record `odoo_id`."""
        if self.odoo_id(model, canonical_id) == odoo_id:
            return
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
