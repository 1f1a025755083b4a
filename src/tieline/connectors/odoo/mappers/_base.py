"""What every mapper shares: direct field pairs and wire value conversion.

A mapper lists `direct` pairs (canonical attribute, Odoo field) that convert
one to one, and adds small methods for the rest. Odoo's empty value is
`False`; the canonical one is `None`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel

from tieline.money import round_money


def to_wire(value: Any) -> Any:
    """A canonical value as Odoo takes it (None -> False, dates as text)."""
    if value is None:
        return False
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_wire(value: Any) -> Any:
    """An Odoo value as canonical data (False -> None)."""
    return None if value is False else value


def many2one_id(value: Any) -> int | None:
    """The id of a many2one as read (`[id, name]`, a bare id or False)."""
    if isinstance(value, list) and value:
        return int(value[0])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def money(value: Any, currency: str) -> Decimal:
    """An Odoo monetary value as exact money, rounded by the project's rule."""
    return round_money(Decimal(str(value or 0)), currency)


class Mapper:
    """Direct field pairs plus the conversions each entity adds."""

    model: ClassVar[str]
    direct: ClassVar[tuple[tuple[str, str], ...]] = ()

    def direct_to_odoo(self, record: BaseModel) -> dict[str, Any]:
        """The direct pairs of `record` as Odoo values."""
        return {odoo: to_wire(getattr(record, attr)) for attr, odoo in self.direct}

    def direct_from_odoo(self, row: dict[str, Any]) -> dict[str, Any]:
        """The direct pairs of an Odoo row as canonical values."""
        return {attr: from_wire(row.get(odoo)) for attr, odoo in self.direct}

    def odoo_fields(self) -> list[str]:
        """The Odoo fields the direct pairs read."""
        return [odoo for _, odoo in self.direct]
