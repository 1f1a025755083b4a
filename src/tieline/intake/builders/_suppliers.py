"""The one place intake turns a supplier's name and tax id into a supplier.

Identity is `tieline.suppliers`' job: the resolver finds the supplier a
spelling stands for (same tax id, or same name: certain), creates it when
none is certain, and puts near matches on the review list. This module adds
what a document says about the supplier beyond its name: its addresses and
bank accounts. They are added once the build has resolved every name, since
the resolver keeps its own copy of each supplier for the transaction and a
change made beside it would be overwritten by its next save.
"""

from __future__ import annotations

from typing import TypeVar

from tieline.intake.builders._context import BuildContext
from tieline.model import Address, BankAccount, Supplier
from tieline.store import Action, Change
from tieline.suppliers import SupplierResolver

T = TypeVar("T")


class SupplierLinker:
    """Resolves suppliers for one build; call `finish` before the build ends."""

    def __init__(self, context: BuildContext) -> None:
        self._context = context
        self._resolver = SupplierResolver(
            context.tx, system=context.profile.system, actor=context.actor
        )
        self._addresses: dict[str, list[Address]] = {}
        self._accounts: dict[str, list[BankAccount]] = {}

    def link(
        self,
        name: str,
        *,
        tax_id: str | None,
        country: str | None = None,
        address: Address | None = None,
        bank_account: BankAccount | None = None,
    ) -> Supplier:
        """The supplier `name` and `tax_id` stand for, created if new.

        Raises `NotASupplier` for a placeholder name and `ValidationFailed`
        for a tax id that cannot be read.
        """
        resolution = self._resolver.resolve(name, tax_id=tax_id, country=country)
        supplier = resolution.supplier
        if resolution.created or resolution.updated:
            action = Action.CREATED if resolution.created else Action.UPDATED
            self._context.run.record(Change(action, supplier, None))
        if address is not None:
            self._addresses.setdefault(supplier.id, []).append(address)
        if bank_account is not None:
            self._accounts.setdefault(supplier.id, []).append(bank_account)
        return supplier

    def finish(self) -> None:
        """Add the addresses and bank accounts seen, where they are new."""
        for supplier_id in sorted(self._addresses.keys() | self._accounts.keys()):
            stored = self._context.tx.get(Supplier, supplier_id)
            if stored is None:
                continue
            addresses = _union(stored.addresses, self._addresses.get(supplier_id, []))
            accounts = _union(stored.bank_accounts, self._accounts.get(supplier_id, []))
            if addresses != stored.addresses or accounts != stored.bank_accounts:
                self._context.save(
                    stored.model_copy(
                        update={"addresses": addresses, "bank_accounts": accounts}
                    )
                )


def _union(kept: list[T], new: list[T]) -> list[T]:
    merged = list(kept)
    for item in new:
        if item not in merged:
            merged.append(item)
    return merged
