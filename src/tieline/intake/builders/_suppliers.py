"""The one place intake turns a name and a tax id into a supplier.

TODO: supplier identity (one company under several spellings, near matches
sent to a review list, placeholders refused) is built in `tieline.suppliers`
and is not in this build yet. Until it is, a vendor-list row becomes a
supplier merged only on an exact normalised tax id (or, without one, on the
exact name ignoring case and spacing), and an invoice keeps the supplier's
name and tax id without linking a supplier record. What that costs: spellings
of one company without a shared tax id stay separate suppliers, and
invoices are grouped for duplicate checks by tax id or name, not by supplier.
"""

from __future__ import annotations

from typing import TypeVar

from tieline.intake.builders._context import BuildContext
from tieline.intake.matching import supplier_key
from tieline.model import Address, BankAccount, Origin, Supplier

T = TypeVar("T")


def resolve_supplier(
    context: BuildContext,
    name: str,
    *,
    tax_id: str | None,
    address: Address | None = None,
    bank_account: BankAccount | None = None,
    create: bool,
) -> str | None:
    """The id of the supplier `name` and `tax_id` name, creating it if `create`.

    Idempotent: a spelling, address or bank account already recorded is not
    added again, so importing the same rows twice changes nothing.
    """
    if not create:
        return None
    origin = Origin(system=context.profile.system, key=supplier_key(tax_id, name))
    fresh = Supplier(origin=origin, legal_name=name, tax_id=tax_id)
    stored = context.tx.get(Supplier, fresh.id) or fresh
    supplier = stored.model_copy(
        update={
            "aliases": _union(stored.aliases, [name]),
            "addresses": _union(stored.addresses, [address] if address else []),
            "bank_accounts": _union(
                stored.bank_accounts, [bank_account] if bank_account else []
            ),
        }
    )
    context.save(supplier)
    return supplier.id


def _union(kept: list[T], new: list[T]) -> list[T]:
    return [*kept, *(item for item in new if item not in kept)]
