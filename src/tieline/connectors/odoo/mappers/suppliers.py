"""Supplier <-> res.partner (a company with supplier rank and bank accounts).

TODO: addresses are not mapped yet, and a bank account removed in tieline
stays on the partner in Odoo (only new accounts are added).
"""

from __future__ import annotations

from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper
from tieline.errors import ValidationFailed
from tieline.model import BankAccount, Origin, Supplier, SupplierStatus
from tieline.suppliers import normalise_tax_id


class SupplierMapper(Mapper):
    """A supplier is a company partner; archived in Odoo means blocked here."""

    model: ClassVar[str] = "res.partner"
    direct = (("legal_name", "name"), ("tax_id", "vat"))

    def to_odoo(
        self, supplier: Supplier, *, known_accounts: set[str]
    ) -> dict[str, Any]:
        """Values to create or update the partner; only new bank accounts are added."""
        values = self.direct_to_odoo(supplier)
        values.update(
            is_company=True, active=supplier.status is not SupplierStatus.BLOCKED
        )
        new_accounts = [
            [
                0,
                0,
                {
                    "acc_number": account.account_number,
                    "acc_holder_name": account.holder or False,
                },
            ]
            for account in supplier.bank_accounts
            if account.account_number not in known_accounts
        ]
        if new_accounts:
            values["bank_ids"] = new_accounts
        return values

    def natural_key(self, supplier: Supplier) -> list[Any]:
        """An existing partner with the same tax id, or the same company name."""
        if supplier.tax_id:
            return [("vat", "=", supplier.tax_id)]
        return [("name", "=", supplier.legal_name), ("is_company", "=", True)]

    def read_fields(self) -> list[str]:
        """Fields a pull reads."""
        return [
            *self.odoo_fields(),
            "active",
            "is_company",
            "write_date",
            "bank_ids",
            "supplier_rank",
        ]

    def from_odoo(
        self,
        row: dict[str, Any],
        accounts: list[dict[str, Any]],
        *,
        existing: Supplier | None,
        system: str,
    ) -> Supplier:
        """The canonical supplier a partner row describes."""
        values = self.direct_from_odoo(row)
        values["tax_id"] = _stored_tax_id(values["tax_id"])
        values["status"] = (
            SupplierStatus.ACTIVE if row.get("active") else SupplierStatus.BLOCKED
        )
        values["bank_accounts"] = [
            BankAccount(
                account_number=a["acc_number"], holder=a.get("acc_holder_name") or None
            )
            for a in accounts
        ]
        if existing is not None:
            return existing.model_copy(update=values)
        origin = Origin(system=system, key=f"res.partner:{row['id']}")
        return Supplier(origin=origin, aliases=[values["legal_name"]], **values)


def _stored_tax_id(vat: str | None) -> str | None:
    """Odoo's VAT number as tieline stores tax ids ("BE 0477.472.701" is
    "BE0477472701"), or as written when it is not one tieline can read."""
    if not vat:
        return None
    try:
        return normalise_tax_id(vat)
    except ValidationFailed:
        return vat
